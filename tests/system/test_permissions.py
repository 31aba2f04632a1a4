"""Credentials that may read but not write: ``publish`` is refused clearly, ``download`` works.

SeaweedFS enforces per-identity actions from an S3 config file (``weed mini -s3.config``), so
this module starts its own server with three identities: an admin, a reader (Read and List)
and a lister (List only). moto accepts any credentials and so could not refuse a write; the
module therefore runs on SeaweedFS whichever server the rest of the suite uses.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lib.cli import CliResult, cli, publish_graph
from tests.lib.s3servers import S3Server, find_executable, start_seaweedfs
from tests.lib.wheels import make_bundle

ADMIN = ("admin-key", "admin-secret-0123456789")
READER = ("reader-key", "reader-secret-0123456789")
LISTER = ("lister-key", "lister-secret-0123456789")

pytestmark = pytest.mark.skipif(
    find_executable("weed") is None,
    reason="needs SeaweedFS (`weed`): moto accepts any credentials, so it cannot refuse a write",
)


@pytest.fixture(scope="module")
def iam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    root = tmp_path_factory.mktemp("iam-seaweedfs")
    identities = [
        ("admin", ADMIN, ["Admin", "Read", "List", "Tagging", "Write"]),
        ("reader", READER, ["Read", "List"]),
        ("lister", LISTER, ["List"]),
    ]
    config = {
        "identities": [
            {
                "name": name,
                "credentials": [{"accessKey": key, "secretKey": secret}],
                "actions": actions,
            }
            for name, (key, secret), actions in identities
        ]
    }
    (root / "s3.json").write_text(json.dumps(config))
    server = start_seaweedfs(
        root / "data",
        access_key=ADMIN[0],
        secret_key=ADMIN[1],
        extra_args=[f"-s3.config={root / 's3.json'}"],
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def repo(iam_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fresh bucket holding ``app -> lib``, published by the admin."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    bucket = f"iam-{uuid.uuid4().hex[:8]}"
    iam_server.client().create_bucket(Bucket=bucket)
    where = ["-b", bucket, "--endpoint-url", iam_server.endpoint_url]
    publish_graph(
        tmp_path,
        [*where, "-c", *ADMIN, "*"],
        {"app": {"1.0.0": ["lib"]}, "lib": {"1.0.0": []}},
        sizes={"lib": 200_000},
    )
    return where


def as_(who: tuple[str, str]) -> list[str]:
    return ["-c", *who, "*"]


def one_error_line(result: CliResult) -> str:
    # These tests give keys with -c on purpose; pipper warns about that on a line of its own.
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith("warning: -c/--credentials")
    ]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


def keys(server: S3Server, bucket: str) -> list[str]:
    listing = server.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", ()))


@pytest.mark.parametrize("force", [False, True], ids=["publish", "publish-force"])
def test_a_reader_cannot_publish_and_is_told_so(
    tmp_path: Path, iam_server: S3Server, repo: list[str], force: bool
) -> None:
    bucket = repo[1]
    before = keys(iam_server, bucket)
    fresh = make_bundle(tmp_path / "fresh", "fresh", "1.0.0")
    result = cli("publish", str(fresh), *repo, *as_(READER), *(["--force"] if force else []))
    assert result.exit_code == 5
    line = one_error_line(result)
    assert "access denied" in line and "pipper/fresh/v1-0-0.pipper" in line
    assert keys(iam_server, bucket) == before

    # The same bundle from the admin goes through: what was refused was the permission.
    admin = cli("publish", str(fresh), *repo, *as_(ADMIN))
    assert admin.exit_code == 0, admin.stderr
    assert "pipper/fresh/v1-0-0.pipper" in keys(iam_server, bucket)


def test_a_reader_can_download_info_and_list(
    tmp_path: Path, iam_server: S3Server, repo: list[str]
) -> None:
    bundles = tmp_path / "bundles"
    out = tmp_path / "vendor"
    result = cli("download", "app", "-d", str(out), "--json", *repo, *as_(READER))
    assert result.exit_code == 0, result.stderr
    assert {p["name"] for p in result.json()["packages"]} == {"app", "lib"}
    for name in ("app-v1-0-0.pipper", "lib-v1-0-0.pipper"):
        assert hashlib.sha256((out / name).read_bytes()).digest() == (
            hashlib.sha256((bundles / name).read_bytes()).digest()
        )
    assert cli("info", "lib", *repo, *as_(READER)).exit_code == 0
    listed = cli("list", "--json", *repo, *as_(READER))
    assert listed.exit_code == 0, listed.stderr
    assert {row["name"] for row in listed.json()} == {"app", "lib"}


def test_credentials_that_may_list_but_not_read_fail_the_download_clearly(
    tmp_path: Path, repo: list[str]
) -> None:
    assert cli("info", "app", *repo, *as_(LISTER)).exit_code == 0
    out = tmp_path / "vendor"
    result = cli("download", "app", "-d", str(out), *repo, *as_(LISTER))
    assert result.exit_code == 5
    assert "access denied" in one_error_line(result)
    assert not out.exists()


def test_unknown_credentials_are_refused_as_such(tmp_path: Path, repo: list[str]) -> None:
    result = cli("download", "app", "-d", str(tmp_path / "v"), *repo, "-c", READER[0], "wrong", "*")
    assert result.exit_code == 5
    assert "credentials were refused" in one_error_line(result)
