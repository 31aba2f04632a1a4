"""Shared fixtures: one real S3 server per session (per xdist worker), isolated homes, proxies.

The harness these fixtures start lives in ``tests/lib``. Only ``pipper_home`` is autouse, and it
only sets environment variables and makes three folders, so the unit tier never starts a server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.lib.isolation import (
    KEPT_PIPPER_VARS,
    LEAKY_AWS,
    PIPPER_DIRS,
    TEST_SETTINGS,
    PipperHome,
)
from tests.lib.locations import location_fixture, repo_fixture  # noqa: F401  (fixtures)
from tests.lib.proxy import Faults, MakeProxy, Proxy
from tests.lib.pypiservers import PypiServer, start_pypi_server
from tests.lib.s3servers import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, S3Server, start_server


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


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's standalone server whatever ``PIPPER_TEST_S3`` says: for what needs S3's own
    semantics, such as an object whose key ends in ``/`` (SeaweedFS keeps such a key as a
    folder), which the simple index's project pages are."""
    server = start_server("moto", data_dir=tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto_bucket(moto_server: S3Server) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    moto_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def moto_env(
    monkeypatch: pytest.MonkeyPatch, moto_server: S3Server, pipper_home: PipperHome, tmp_path: Path
) -> dict[str, str]:
    """As ``s3_env``, pointing at ``moto_server``."""
    return _point_at(moto_server, monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def pypi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiServer]:
    """One real PyPI-compatible index (pypiserver) per session; tests publish wheels into it
    under names of their own."""
    server = start_pypi_server(tmp_path_factory.mktemp("pypi-packages"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_pypi_server(tmp_path: Path) -> Iterator[Callable[[], PypiServer]]:
    """Start indexes of a test's own (to publish newer versions into, or to stop mid-test);
    all are stopped at teardown."""
    servers: list[PypiServer] = []

    def make() -> PypiServer:
        server = start_pypi_server(tmp_path / f"pypi-{len(servers)}")
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def pipper_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipperHome:
    """Every test gets its own pipper home, cache and data dirs, never the user's real ones,
    and the ``TEST_SETTINGS`` (short retry pauses)."""
    for name in list(os.environ):
        if name.startswith("PIPPER_") and name not in KEPT_PIPPER_VARS:
            monkeypatch.delenv(name)
    dirs = PipperHome(
        home=tmp_path / "pipper-home",
        cache_dir=tmp_path / "pipper-cache",
        data_dir=tmp_path / "pipper-data",
    )
    for name, path in zip(PIPPER_DIRS, (dirs.home, dirs.cache_dir, dirs.data_dir), strict=True):
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    for name, value in TEST_SETTINGS.items():
        monkeypatch.setenv(name, value)
    return dirs


@pytest.fixture
def s3_env(
    monkeypatch: pytest.MonkeyPatch, s3_server: S3Server, pipper_home: PipperHome, tmp_path: Path
) -> dict[str, str]:
    """Point boto3/aioboto3 (in-process and subprocesses) at the test server and nothing else.

    The AWS config and credentials files are redirected to paths that do not exist, so a
    developer's ~/.aws cannot change what a test sees.
    """
    return _point_at(s3_server, monkeypatch, tmp_path)


def _point_at(server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for name in LEAKY_AWS:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("PIPPER_") and name not in (
            *PIPPER_DIRS,
            *KEPT_PIPPER_VARS,
            *TEST_SETTINGS,
        ):
            monkeypatch.delenv(name)
    env = server.env()
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-credentials")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


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


@pytest.fixture
def isolated_installers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """pip and uv see no configuration of this machine (its indexes, links and constraints)."""
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_")) or name == "VIRTUAL_ENV":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_NO_CONFIG", "1")
