"""``pipper cache dir | info | warm | verify | prune``.

Prune beside running processes is in ``tests/system/test_cache_lock.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.lib.cli import Graph, cli, one_error, publish_graph
from tests.lib.files import cache_blobs, sha256_of
from tests.lib.isolation import PipperHome
from tests.lib.proxy import MakeProxy

GRAPH: Graph = {
    "app": {"1.0.0": ["lib"]},
    "lib": {"1.0.0": ["base"]},
    "base": {"1.0.0": []},
}


@pytest.fixture
def repo(s3_env: dict[str, str], bucket: str) -> list[str]:
    return ["-b", bucket]


def test_dir_follows_the_environment_and_the_option(
    tmp_path: Path, pipper_home: PipperHome
) -> None:
    assert cli("cache", "dir").stdout.strip() == str(pipper_home.cache_dir)
    other = tmp_path / "elsewhere"
    assert cli("cache", "dir", "--cache-dir", str(other)).stdout.strip() == str(other)


def test_info_counts_entries_per_repository(
    tmp_path: Path, repo: list[str], bucket: str, pipper_home: PipperHome
) -> None:
    empty = cli("cache", "info", "--json")
    assert empty.exit_code == 0, empty.stderr
    assert empty.json()["entries"] == 0

    published = publish_graph(tmp_path, repo, GRAPH, sizes={"base": 50_000})
    assert cli("download", "app", "-d", str(tmp_path / "v"), *repo).exit_code == 0
    local = tmp_path / "local-repo"
    (tmp_path / "l").mkdir()
    publish_graph(tmp_path / "l", ["-b", str(local)], {"solo": {"1.0.0": []}})
    assert cli("download", "solo", "-d", str(tmp_path / "v"), "-b", str(local)).exit_code == 0

    data = cli("cache", "info", "--json").json()
    assert isinstance(data, dict)
    total = sum(p.stat().st_size for p in published.iterdir())
    assert data["entries"] == 4
    assert data["directory"] == str(pipper_home.cache_dir)
    per_repo = {r["repository"]: (r["entries"], r["size"]) for r in data["repositories"]}
    assert per_repo[f"s3://{bucket}/pipper"] == (3, total)
    assert len(per_repo) == 2
    assert data["size"] == total + sum(e[1] for k, e in per_repo.items() if k.startswith("file:"))
    text = cli("cache", "info").stdout
    assert f"s3://{bucket}/pipper: 3" in text
    assert "Entries: 4" in text


def test_warm_then_offline_download_needs_no_network(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    publish_graph(tmp_path, ["-b", bucket], GRAPH)
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url]
    warm = cli("cache", "warm", "app", *repo)
    assert warm.exit_code == 0, warm.stderr
    assert "Cached 3 packages" in warm.stderr
    assert proxy.count("get") == 3
    assert not list(tmp_path.glob("*.pipper")) and not list(Path.cwd().glob("*.pipper"))

    proxy.stop()
    proxy.reset()
    offline = cli("download", "app", "--offline", "-d", str(tmp_path / "v"), *repo)
    assert offline.exit_code == 0, offline.stderr
    assert proxy.count("all") == 0
    assert len(list((tmp_path / "v").glob("*.pipper"))) == 3


def test_warm_from_a_lock_then_offline_lock_run(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(tmp_path, repo, GRAPH)
    lock_file = tmp_path / "pipper.lock"
    other_cache = ["--cache-dir", str(tmp_path / "locking-cache")]
    assert cli("lock", "app", "-o", str(lock_file), *repo, *other_cache).exit_code == 0
    warm = cli("cache", "warm", "--lock", str(lock_file), *repo)
    assert warm.exit_code == 0, warm.stderr
    offline = cli("download", "--lock", str(lock_file), "--offline", "-d", str(tmp_path / "v"))
    assert offline.exit_code == 0, offline.stderr
    assert len(list((tmp_path / "v").glob("*.pipper"))) == 3


def test_verify_finds_and_removes_a_damaged_entry(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    make_proxy: MakeProxy,
    pipper_home: PipperHome,
) -> None:
    publish_graph(tmp_path, ["-b", bucket], GRAPH, sizes={"lib": 20_000})
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url]
    assert cli("download", "app", "-d", str(tmp_path / "v"), *repo).exit_code == 0
    clean = cli("cache", "verify")
    assert clean.exit_code == 0, clean.stderr
    assert "All 3 cache entries are intact" in clean.stderr

    damaged = max(cache_blobs(pipper_home.cache_dir), key=lambda p: p.stat().st_size)
    os.chmod(damaged, 0o644)
    with damaged.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    result = cli("cache", "verify")
    assert result.exit_code == 1
    assert f"damaged: {damaged.name}" in result.stderr
    assert "1 of 3 cache entries were damaged" in result.stderr
    assert not damaged.exists()
    assert len(cache_blobs(pipper_home.cache_dir)) == 2
    assert cli("cache", "verify").exit_code == 0

    proxy.reset()
    again = cli("download", "app", "-d", str(tmp_path / "v2"), "--json", *repo)
    assert again.exit_code == 0, again.stderr
    assert proxy.count("get") == 1
    assert sha256_of(damaged) == damaged.name


def test_prune_older_than_keeps_what_was_used_recently(
    tmp_path: Path, repo: list[str], pipper_home: PipperHome
) -> None:
    publish_graph(tmp_path, repo, GRAPH)
    assert cli("download", "app", "-d", str(tmp_path / "v"), *repo).exit_code == 0
    cache = pipper_home.cache_dir
    old, *recent = cache_blobs(cache)
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old, (ten_days_ago, ten_days_ago))
    (cache / "tmp").mkdir(exist_ok=True)
    stale, fresh = cache / "tmp" / ".tmp-dead.part", cache / "tmp" / ".tmp-live.part"
    stale.write_bytes(b"x" * 10)
    fresh.write_bytes(b"y" * 10)
    os.utime(stale, (ten_days_ago, ten_days_ago))

    housekeeping = cli("cache", "prune")
    assert housekeeping.exit_code == 0, housekeeping.stderr
    assert old.exists() and not stale.exists() and fresh.exists()

    result = cli("cache", "prune", "--older-than", "5")
    assert result.exit_code == 0, result.stderr
    assert "Removed 1 entries" in result.stderr
    assert not old.exists()
    assert all(p.exists() for p in recent)
    assert fresh.exists()
    assert cli("cache", "info", "--json").json()["entries"] == 2

    # The pruned entry is fetched again; the others still come from the cache.
    warm = cli("download", "app", "-d", str(tmp_path / "v2"), "--json", *repo)
    assert sorted(p["source"] for p in warm.json()["packages"]) == [
        "cache",
        "cache",
        "network",
    ]

    everything = cli("cache", "prune", "--all")
    assert everything.exit_code == 0, everything.stderr
    assert cache_blobs(cache) == []
    assert not fresh.exists()
    assert cli("cache", "prune", "--all", "--older-than", "1").exit_code == 2


def test_a_cache_dir_that_names_a_file_is_refused_and_the_file_kept(
    tmp_path: Path, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, GRAPH)
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    where = ["--cache-dir", str(taken)]
    result = cli("download", "app", "-d", str(tmp_path / "out"), *repo, *where)
    assert result.exit_code == 2
    assert one_error(result) == f"error: the cache folder {taken} is not a folder (see --cache-dir)"
    for command in ("verify", "prune"):
        refused = cli("cache", command, *where)
        assert refused.exit_code == 1
        assert "not marked as a pipper cache" in one_error(refused)
    assert taken.read_text() == "mine"
