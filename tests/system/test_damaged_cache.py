"""A damaged cache: detected before use, thrown away, fetched again; never trusted, never followed.

Blobs are content-addressed and read-only (0444), so damage here means someone went out of their
way (a chmod and a write, a disk error, a hard-linked output file edited in place); whatever the
cause, pipper must notice before a damaged bundle reaches an output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lib.cli import Graph, cli, publish_graph
from tests.lib.proxy import MakeProxy, Proxy

GRAPH: Graph = {"app": {"1.0.0": ["lib"]}, "lib": {"1.0.0": []}}
APP, LIB = "app-v1-0-0.pipper", "lib-v1-0-0.pipper"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _blob(cache: Path, digest: str) -> Path:
    return cache / "blobs" / "sha256" / digest[:2] / digest


def _rewrite(path: Path, data: bytes) -> None:
    """Change a read-only blob in place (same inode), as an editor or a disk error would."""
    os.chmod(path, 0o644)
    with path.open("r+b") as handle:
        handle.truncate(0)
        handle.write(data)
    os.chmod(path, 0o444)


def _flip_a_byte(blob: Path, other: Path) -> None:
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the stored wheel: the zip itself still opens
    _rewrite(blob, bytes(data))


def _truncate(blob: Path, other: Path) -> None:
    _rewrite(blob, blob.read_bytes()[: blob.stat().st_size // 2])


def _empty(blob: Path, other: Path) -> None:
    _rewrite(blob, b"")


def _swap_for_another_bundle(blob: Path, other: Path) -> None:
    _rewrite(blob, other.read_bytes())  # a perfectly valid bundle, of another package


DAMAGE: dict[str, Callable[[Path, Path], None]] = {
    "flipped-byte": _flip_a_byte,
    "truncated": _truncate,
    "emptied": _empty,
    "another-bundle": _swap_for_another_bundle,
}


@dataclass(frozen=True)
class Warm:
    published: Path
    repo: list[str]
    cache: Path
    proxy: Proxy


@pytest.fixture
def warm(tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy) -> Warm:
    """A published graph, a counting proxy, and a cache filled by one download."""
    published = publish_graph(tmp_path, ["-b", bucket], GRAPH, sizes={"lib": 300_000})
    proxy = make_proxy()
    cache = tmp_path / "cache"
    repo = ["-b", bucket, "--endpoint-url", proxy.url, "--cache-dir", str(cache)]
    first = cli("download", "app", "-d", str(tmp_path / "first"), *repo)
    assert first.exit_code == 0, first.stderr
    assert _blob(cache, _sha256(published / LIB)).is_file()
    return Warm(published, repo, cache, proxy)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_blob_is_thrown_away_and_fetched_again(
    tmp_path: Path, warm: Warm, damage: str
) -> None:
    published, repo, cache, proxy = warm.published, warm.repo, warm.cache, warm.proxy
    digest = _sha256(published / LIB)
    blob = _blob(cache, digest)
    DAMAGE[damage](blob, _blob(cache, _sha256(published / APP)))
    assert _sha256(blob) != digest

    proxy.reset()
    out = tmp_path / "second"
    result = cli("download", "app", "-d", str(out), "--json", *repo)
    assert result.exit_code == 0, result.stderr
    assert "damaged" in result.stderr
    sources = {p["name"]: p["source"] for p in result.json()["packages"]}
    assert sources == {"app": "cache", "lib": "network"}
    gets = [r.path for r in proxy.requests if r.kind == "get"]
    assert len(gets) == 1 and gets[0].endswith("/pipper/lib/v1-0-0.pipper"), gets
    for name in (APP, LIB):
        assert _sha256(out / name) == _sha256(published / name)
    assert _sha256(blob) == digest
    assert blob.stat().st_mode & 0o777 == 0o444


def test_offline_never_uses_a_damaged_blob(tmp_path: Path, warm: Warm) -> None:
    published, repo, cache = warm.published, warm.repo, warm.cache
    blob = _blob(cache, _sha256(published / LIB))
    _flip_a_byte(blob, blob)
    out = tmp_path / "offline"
    result = cli("download", "app", "-d", str(out), "--offline", *repo)
    assert result.exit_code == 9
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "lib" in last
    assert not out.exists() or not any(out.iterdir())
    assert not blob.exists()


@pytest.mark.parametrize(
    "garbage", [b"{not json", b'{"records": [{"sha256": 5}]}', b'{"records": {}}']
)
def test_damaged_index_records_are_ignored_not_trusted(
    tmp_path: Path, warm: Warm, garbage: bytes
) -> None:
    published, repo, cache, proxy = warm.published, warm.repo, warm.cache, warm.proxy
    (index,) = list((cache / "index").rglob("*.json"))  # the first run's records, in one file
    assert {r["key"] for r in json.loads(index.read_bytes())["records"]} == {
        "pipper/app/v1-0-0.pipper",
        "pipper/lib/v1-0-0.pipper",
    }
    index.write_bytes(garbage)
    proxy.reset()
    out = tmp_path / "again"
    result = cli("download", "app", "-d", str(out), *repo)
    assert result.exit_code == 0, result.stderr
    assert proxy.count("get") == 2
    for name in (APP, LIB):
        assert _sha256(out / name) == _sha256(published / name)


def _edit_record(cache: Path, key: str, **changes: str) -> None:
    """Change the index record of ``key`` in place, as a hostile or broken writer would."""
    for index in (cache / "index").rglob("*.json"):
        doc = json.loads(index.read_bytes())
        for record in doc["records"]:
            if record["key"] == key:
                record.update(changes)
                index.write_text(json.dumps(doc))
                return
    raise AssertionError(f"no index record for {key}")


def test_an_index_record_cannot_point_outside_the_cache(tmp_path: Path, warm: Warm) -> None:
    published, repo, cache = warm.published, warm.repo, warm.cache
    victim = tmp_path / "precious.txt"
    victim.write_text("not a bundle")
    _edit_record(cache, "pipper/lib/v1-0-0.pipper", sha256=str(victim))
    result = cli("download", "app", "-d", str(tmp_path / "out"), *repo)
    assert victim.exists(), "a cache index record made pipper delete a file outside the cache"
    assert result.exit_code == 0, result.stderr
    assert _sha256(tmp_path / "out" / LIB) == _sha256(published / LIB)


def test_an_index_record_naming_another_packages_blob_is_a_miss(tmp_path: Path, warm: Warm) -> None:
    published, repo, cache = warm.published, warm.repo, warm.cache
    _edit_record(cache, "pipper/lib/v1-0-0.pipper", sha256=_sha256(published / APP))
    out = tmp_path / "out"
    result = cli("download", "app", "-d", str(out), *repo)
    assert result.exit_code == 0, result.stderr
    assert _sha256(out / LIB) == _sha256(published / LIB)


def test_cache_verify_reports_the_damage_and_the_next_download_repairs_it(
    tmp_path: Path, warm: Warm
) -> None:
    published, repo, cache, proxy = warm.published, warm.repo, warm.cache, warm.proxy
    intact = cli("cache", "verify", "--cache-dir", str(cache))
    assert intact.exit_code == 0, intact.stderr

    digest = _sha256(published / LIB)
    _truncate(_blob(cache, digest), _blob(cache, digest))
    report = cli("cache", "verify", "--cache-dir", str(cache))
    assert report.exit_code != 0
    assert f"damaged: {digest}" in report.stderr
    assert not _blob(cache, digest).exists()
    assert _blob(cache, _sha256(published / APP)).is_file()

    proxy.reset()
    result = cli("download", "app", "-d", str(tmp_path / "out"), *repo)
    assert result.exit_code == 0, result.stderr
    assert [r.path for r in proxy.requests if r.kind == "get"] == [
        next(r.path for r in proxy.requests if r.path.endswith("/pipper/lib/v1-0-0.pipper"))
    ]
    assert _sha256(_blob(cache, digest)) == digest
    assert cli("cache", "verify", "--cache-dir", str(cache)).exit_code == 0
