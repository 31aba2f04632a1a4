"""``pipper lock`` and ``--lock`` runs against a real S3 server (the file format: unit tier)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.lib.cli import Graph, cli, publish_graph
from tests.lib.proxy import MakeProxy
from tests.lib.s3servers import S3Server
from tests.lib.wheels import make_bundle

GRAPH: Graph = {
    "app": {"1.0.0": ["left", "right"]},
    "left": {"1.0.0": ["base:>=1.0"]},
    "right": {"1.0.0": ["base:<3"]},
    "base": {"1.0.0": [], "2.0.0": [], "3.0.0": []},
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def published(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> Path:
    return publish_graph(tmp_path, ["-b", bucket], GRAPH, sizes={"base": 200_000})


def test_lock_is_stable_sorted_and_round_trips(
    tmp_path: Path, bucket: str, published: Path, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url]
    lock_file = tmp_path / "pipper.lock"
    first = cli("lock", "app", "-o", str(lock_file), *repo)
    assert first.exit_code == 0, first.stderr
    again = cli("lock", "app", "-o", "-", *repo, "--cache-dir", str(tmp_path / "other-cache"))
    assert again.exit_code == 0, again.stderr
    assert again.stdout.encode() == lock_file.read_bytes()

    data = json.loads(lock_file.read_text())
    assert data["lock_version"] == 1
    assert data["repository"]["bucket"] == bucket
    assert data["requested"] == ["app"]
    names = [p["name"] for p in data["packages"]]
    assert names == ["app", "base", "left", "right"]
    by_name = {p["name"]: p for p in data["packages"]}
    assert by_name["base"]["version"] == "2.0.0"
    assert by_name["base"]["required_by"] == ["left", "right"]
    assert by_name["app"]["dependencies"] == ["left", "right"]
    for package in data["packages"]:
        bundle = published / f"{package['name']}-{package['key'].rsplit('/', 1)[1]}"
        assert package["sha256"] == sha256(bundle)
        assert package["size"] == bundle.stat().st_size

    # A cold cache: one GET per package, and one listing of the whole prefix made alongside
    # them (only to warn about yanked versions; nothing is resolved).
    proxy.reset()
    out = tmp_path / "vendor"
    cold_cache = ["--cache-dir", str(tmp_path / "cold-cache")]
    cold = cli("download", "--lock", str(lock_file), "-d", str(out), "--json", *repo, *cold_cache)
    assert cold.exit_code == 0, cold.stderr
    assert proxy.count("list") == 1
    assert proxy.count("get") == 4
    assert proxy.count("all") == 5
    for package in data["packages"]:
        file = out / f"{package['name']}-{package['key'].rsplit('/', 1)[1]}"
        assert sha256(file) == package["sha256"]
    assert {p["source"] for p in cold.json()["packages"]} == {"network"}

    # A warm cache: no request at all, and no endpoint needed.
    proxy.reset()
    proxy.stop()
    warm = cli(
        "download",
        "--lock",
        str(lock_file),
        "-d",
        str(tmp_path / "w"),
        "--json",
        *repo,
        *cold_cache,
    )
    assert warm.exit_code == 0, warm.stderr
    assert proxy.count("all") == 0
    assert {p["source"] for p in warm.json()["packages"]} == {"cache"}
    assert len(list((tmp_path / "w").glob("*.pipper"))) == 4


def test_lock_run_uses_the_locks_repository_when_none_is_configured(
    tmp_path: Path, bucket: str, published: Path
) -> None:
    lock_file = tmp_path / "pipper.lock"
    assert cli("lock", "app", "-o", str(lock_file), "-b", bucket).exit_code == 0
    result = cli(
        "download",
        "--lock",
        str(lock_file),
        "-d",
        str(tmp_path / "v"),
        "--cache-dir",
        str(tmp_path / "fresh"),
    )
    assert result.exit_code == 0, result.stderr
    assert "default local repository" not in result.stderr
    assert len(list((tmp_path / "v").glob("*.pipper"))) == 4


def test_lock_of_a_local_directory_repository_round_trips(tmp_path: Path) -> None:
    local = tmp_path / "local repo"
    publish_graph(tmp_path, ["-b", str(local), "--root-prefix", "team/pkgs"], GRAPH)
    lock_file = tmp_path / "pipper.lock"
    locked = cli(
        "lock", "app", "-o", str(lock_file), "-b", str(local), "--root-prefix", "team/pkgs"
    )
    assert locked.exit_code == 0, locked.stderr
    data = json.loads(lock_file.read_text())
    assert data["repository"]["local_path"] == str(local)
    assert data["repository"]["root_prefix"] == "team/pkgs"
    assert {p["key"] for p in data["packages"]} >= {"team/pkgs/base/v2-0-0.pipper"}
    result = cli(
        "download",
        "--lock",
        str(lock_file),
        "-d",
        str(tmp_path / "v"),
        "--json",
        "--cache-dir",
        str(tmp_path / "fresh"),
    )
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    assert {p["source"] for p in result.json()["packages"]} == {"network"}
    assert len(list((tmp_path / "v").glob("*.pipper"))) == 4


def test_a_republished_package_makes_the_lock_stale(
    tmp_path: Path, bucket: str, published: Path
) -> None:
    lock_file = tmp_path / "pipper.lock"
    assert cli("lock", "app", "-o", str(lock_file), "-b", bucket).exit_code == 0
    other = make_bundle(
        tmp_path / "new", "left", "1.0.0", dependencies=["base:>=1.0"], payload_size=1234
    )
    assert cli("publish", str(other), "--force", "-b", bucket).exit_code == 0

    result = cli(
        "download",
        "--lock",
        str(lock_file),
        "-d",
        str(tmp_path / "v"),
        "-b",
        bucket,
        "--cache-dir",
        str(tmp_path / "fresh"),
    )
    assert result.exit_code == 7
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: left 1.0.0 changed in the repository since the lock was written")
    assert "pipper lock" in line
    assert not (tmp_path / "v" / "left-v1-0-0.pipper").exists()


def test_a_deleted_version_makes_the_lock_stale(
    tmp_path: Path, bucket: str, published: Path, s3_server: S3Server
) -> None:
    lock_file = tmp_path / "pipper.lock"
    assert cli("lock", "app", "-o", str(lock_file), "-b", bucket).exit_code == 0
    s3_server.client().delete_object(Bucket=bucket, Key="pipper/right/v1-0-0.pipper")
    result = cli(
        "download",
        "--lock",
        str(lock_file),
        "-d",
        str(tmp_path / "v"),
        "-b",
        bucket,
        "--cache-dir",
        str(tmp_path / "fresh"),
    )
    assert result.exit_code == 3
    assert "right 1.0.0 is in the lock but no longer in" in result.stderr
    assert "pipper/right/v1-0-0.pipper" in result.stderr


def test_offline_lock_run_names_what_the_cache_lacks(
    tmp_path: Path, bucket: str, published: Path
) -> None:
    lock_file = tmp_path / "pipper.lock"
    assert cli("lock", "left", "-o", str(lock_file), "-b", bucket).exit_code == 0
    result = cli(
        "download",
        "--lock",
        str(lock_file),
        "--offline",
        "-b",
        bucket,
        "--cache-dir",
        str(tmp_path / "empty"),
        "-d",
        str(tmp_path / "v"),
    )
    assert result.exit_code == 9
    assert "not in the cache: base 3.0.0, left 1.0.0;" in result.stderr


def test_lock_refuses_what_it_cannot_lock(tmp_path: Path, bucket: str, published: Path) -> None:
    lock_file = tmp_path / "pipper.lock"
    assert cli("lock", "left", "-o", str(lock_file), "-b", bucket).exit_code == 0
    mixed = cli("download", "--lock", str(lock_file), "app", "-b", bucket)
    assert mixed.exit_code == 2
    assert "drop package ids" in mixed.stderr
    url = cli("lock", "https://example.com/b/pipper/app/v1-0-0.pipper?X-Amz-Signature=s3cr3t")
    assert url.exit_code == 2
    assert "s3cr3t" not in url.stderr
