"""Shared fixtures: one real S3 server per session (per xdist worker), isolated homes, proxies."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.proxy import Faults, Proxy
from tests.s3servers import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, S3Server, start_server

# Variables that would point a test at a real account or a developer's own pipper setup.
_LEAKY_AWS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CA_BUNDLE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
_PIPPER_DIRS = ("PIPPER_HOME", "PIPPER_CACHE_DIR", "PIPPER_DATA_DIR")
_KEPT = (*_PIPPER_DIRS, "PIPPER_TEST_S3", "PIPPER_NO_PROGRESS")


@dataclass(frozen=True)
class PipperHome:
    home: Path
    cache_dir: Path
    data_dir: Path


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_server(
        data_dir=tmp_path_factory.mktemp("s3server"),
        access_key=DEFAULT_ACCESS_KEY,
        secret_key=DEFAULT_SECRET_KEY,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def pipper_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipperHome:
    """Every test gets its own pipper home, cache and data dirs, never the user's real ones."""
    for name in list(os.environ):
        if name.startswith("PIPPER_") and name != "PIPPER_TEST_S3":
            monkeypatch.delenv(name)
    dirs = PipperHome(
        home=tmp_path / "pipper-home",
        cache_dir=tmp_path / "pipper-cache",
        data_dir=tmp_path / "pipper-data",
    )
    for name, path in zip(_PIPPER_DIRS, (dirs.home, dirs.cache_dir, dirs.data_dir), strict=True):
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    # A log (which stderr is here) gets a line per phase; the tests of those lines ask for them.
    monkeypatch.setenv("PIPPER_NO_PROGRESS", "1")
    return dirs


@pytest.fixture
def s3_env(
    monkeypatch: pytest.MonkeyPatch, s3_server: S3Server, pipper_home: PipperHome, tmp_path: Path
) -> dict[str, str]:
    """Point boto3/aioboto3 (in-process and subprocesses) at the test server and nothing else.

    The AWS config and credentials files are redirected to paths that do not exist, so a
    developer's ~/.aws cannot change what a test sees.
    """
    for name in _LEAKY_AWS:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("PIPPER_") and name not in _KEPT:
            monkeypatch.delenv(name)
    env = s3_server.env()
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-credentials")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


MakeProxy = Callable[..., Proxy]


@pytest.fixture
def make_proxy(s3_server: S3Server) -> Iterator[MakeProxy]:
    """Start proxies in front of the server (or `upstream`); all are stopped at teardown."""
    proxies: list[Proxy] = []

    def make(
        upstream: str | None = None, latency_ms: float = 0.0, faults: Faults | None = None
    ) -> Proxy:
        proxy = Proxy(upstream or s3_server.endpoint_url, latency_ms=latency_ms, faults=faults)
        proxies.append(proxy)
        return proxy.start()

    try:
        yield make
    finally:
        for proxy in proxies:
            proxy.stop()
