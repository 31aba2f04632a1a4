"""The cache package on its own: blobs, records, the lock wait and maintenance, with no server.

Everything here works on a real directory (``tmp_path``) and real ``flock`` locks; only the clock
of the lock wait is a test's own, so a ten-minute wait takes microseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from pipper.cache import Cache, CacheHold, sha256_file
from pipper.cache.blobs import remove_if_same
from pipper.cache.records import COMPACT_AT, short
from pipper.errors import PipperError
from pipper.fsutil import temp_file
from pipper.storage.base import ObjectInfo

REPO = "s3://bucket/pipper"
KEY = "pipper/lib/v1-0-0.pipper"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _put_blob(cache: Cache, data: bytes) -> Path:
    """Commit ``data`` the way a download does: a temporary file in tmp/, then ``commit``."""
    with temp_file(cache.tmp, suffix=".part") as (tmp, handle):
        handle.write(data)
        handle.flush()
        return cache.commit(tmp, _digest(data))


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


# -- blobs ---------------------------------------------------------------------------------------


def test_a_committed_blob_is_read_only_under_its_digest(cache: Cache) -> None:
    data = b"bundle bytes" * 1000
    path = _put_blob(cache, data)
    assert path == cache.blob_path(_digest(data))
    assert path.parent.name == _digest(data)[:2]
    assert path.read_bytes() == data
    assert path.stat().st_mode & 0o777 == 0o444
    assert sha256_file(path) == _digest(data)
    assert list(cache.tmp.iterdir()) == []
    assert [e.digest for e in cache.entries()] == [_digest(data)]


def test_verified_returns_an_intact_blob_and_removes_a_damaged_one(cache: Cache) -> None:
    good, bad = b"good" * 100, b"bad" * 100
    good_path, bad_path = _put_blob(cache, good), _put_blob(cache, bad)
    assert cache.verified(_digest(good)) == good_path
    os.chmod(bad_path, 0o644)
    bad_path.write_bytes(b"changed")
    assert cache.verified(_digest(bad)) is None
    assert not bad_path.exists()
    assert good_path.exists()
    assert cache.verified(_digest(b"never stored")) is None


@pytest.mark.parametrize("name", ["../../etc/passwd", "ABC", "0" * 63, ""])
def test_verified_never_takes_a_name_that_is_not_a_digest(cache: Cache, name: str) -> None:
    assert cache.verified(name) is None


def test_the_damaged_copy_is_removed_but_never_a_good_one_committed_meanwhile(
    cache: Cache,
) -> None:
    data = b"the real bytes"
    path = _put_blob(cache, data)
    os.chmod(path, 0o644)
    path.write_bytes(b"damaged")
    with path.open("rb") as handle:  # what a verifier hashed ...
        hashed = os.fstat(handle.fileno())
    _put_blob(cache, data)  # ... while another process committed a good copy
    remove_if_same(path, hashed)
    assert path.read_bytes() == data
    remove_if_same(path, os.stat(path))
    assert not path.exists()


def test_touch_marks_a_blob_as_used(cache: Cache) -> None:
    path = _put_blob(cache, b"x")
    os.utime(path, (1_000_000, 1_000_000))
    cache.touch(path)
    assert path.stat().st_mtime > time.time() - 60


# -- records and listings ------------------------------------------------------------------------


def _index_files(cache: Cache) -> list[Path]:
    return sorted(p for p in (cache.root / "index").rglob("*") if p.is_file())


def test_a_record_finds_its_blob_while_the_blob_is_there(cache: Cache) -> None:
    data = b"bundle"
    path = _put_blob(cache, data)
    cache.remember(REPO, KEY, '"etag-1"', _digest(data), len(data))
    assert cache.lookup(REPO, KEY, '"etag-1"') == _digest(data)
    assert cache.lookup(REPO, KEY, '"etag-2"') is None
    assert cache.lookup("s3://other/pipper", KEY, '"etag-1"') is None
    os.chmod(path, 0o644)
    path.unlink()
    assert cache.lookup(REPO, KEY, '"etag-1"') is None


def test_the_records_of_a_run_are_one_file_written_when_the_hold_goes(cache: Cache) -> None:
    hold = anyio.run(lambda: cache.hold_for_run(timeout=0))
    digests = []
    for n in range(50):
        data = f"bundle {n}".encode()
        _put_blob(cache, data)
        digests.append(_digest(data))
        cache.remember(REPO, f"pipper/p{n}/v1.pipper", f'"{n}"', digests[-1], len(data))
    assert _index_files(cache) == []
    hold.release()
    assert len(_index_files(cache)) == 1
    again = Cache(cache.root)
    for n in range(50):
        assert again.lookup(REPO, f"pipper/p{n}/v1.pipper", f'"{n}"') == digests[n]


def test_many_flushes_are_merged_into_one_file_without_losing_a_record(cache: Cache) -> None:
    data = b"bundle"
    _put_blob(cache, data)
    for n in range(COMPACT_AT + 3):
        writer = Cache(cache.root)
        writer.remember(REPO, f"pipper/p{n}/v1.pipper", '"e"', _digest(data), len(data))
        writer.records.flush()
        assert len(_index_files(cache)) < COMPACT_AT
    reader = Cache(cache.root)
    for n in range(COMPACT_AT + 3):
        assert reader.lookup(REPO, f"pipper/p{n}/v1.pipper", '"e"') == _digest(data)


def test_a_record_file_of_an_earlier_version_is_still_read(cache: Cache) -> None:
    data = b"bundle"
    _put_blob(cache, data)
    name = short(KEY + chr(0) + '"e"')
    old = cache.root / "index" / short(REPO) / f"{name}.json"
    old.parent.mkdir(parents=True)
    record = {"repository": REPO, "key": KEY, "etag": '"e"', "sha256": _digest(data), "size": 6}
    old.write_text(json.dumps(record))
    assert cache.lookup(REPO, KEY, '"e"') == _digest(data)
    assert [r["sha256"] for r in cache.records.all()] == [_digest(data)]


@pytest.mark.parametrize(
    "damaged",
    [
        b"{not json",
        b"[]",
        b'{"records": 5}',
        json.dumps({"records": [{"key": KEY, "etag": '"e"', "sha256": "../../victim"}]}).encode(),
        json.dumps({"records": [{"key": KEY, "etag": '"e"', "sha256": 5}]}).encode(),
        json.dumps({"records": [{"key": "pipper/other/v1.pipper", "etag": '"e"'}]}).encode(),
    ],
)
def test_a_record_that_names_no_digest_is_a_miss(cache: Cache, damaged: bytes) -> None:
    data = b"bundle"
    _put_blob(cache, data)
    cache.remember(REPO, KEY, '"e"', _digest(data), len(data))
    cache.records.flush()
    (record,) = _index_files(cache)
    record.write_bytes(damaged)
    assert Cache(cache.root).lookup(REPO, KEY, '"e"') is None


def test_a_listing_comes_back_as_it_was_saved(cache: Cache) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    objects = [
        ObjectInfo(key=KEY, size=10, etag='"a"', last_modified=when),
        ObjectInfo(key="pipper/lib/v2-0-0.pipper", size=20, etag='"b"', last_modified=None),
    ]
    assert cache.load_listing(REPO, "lib") is None
    assert cache.listing_age(REPO, "lib") is None
    cache.save_listing(REPO, "lib", objects)
    assert cache.load_listing(REPO, "lib") == objects
    age = cache.listing_age(REPO, "lib")
    assert age is not None and 0 <= age < 60
    assert cache.load_listing("s3://other/pipper", "lib") is None


# -- the lock and its one wait loop ----------------------------------------------------------------


class FakeClock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def test_shared_holds_coexist_and_keep_out_an_exclusive_one(cache: Cache) -> None:
    first, second = cache.try_hold(), cache.try_hold()
    assert first is not None and first.held and second is not None
    assert cache.try_hold(exclusive=True) is None
    first.release()
    assert not first.held
    assert cache.try_hold(exclusive=True) is None
    second.release()
    exclusive = cache.try_hold(exclusive=True)
    assert exclusive is not None and exclusive.held
    assert cache.try_hold() is None
    exclusive.release()


def test_the_wait_gives_up_at_its_deadline_and_says_so_once(cache: Cache) -> None:
    blocker = cache.try_hold(exclusive=True)
    assert blocker is not None
    clock, told = FakeClock(), list[int | None]()
    hold = cache.lock.wait_hold(
        exclusive=False,
        timeout=600,
        on_wait=told.append,
        poll=0.1,
        clock=clock,
        sleep=clock.sleep,
    )
    assert hold is None
    assert len(told) == 1
    assert 599.9 <= clock.now <= 600.2
    assert clock.sleeps == pytest.approx(6000, abs=2)
    blocker.release()


def test_the_wait_ends_as_soon_as_the_lock_is_free(cache: Cache) -> None:
    blocker = cache.try_hold(exclusive=True)
    assert blocker is not None
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.sleeps == 3:
            blocker.release()

    hold = cache.lock.wait_hold(exclusive=True, timeout=600, clock=clock, sleep=sleep)
    assert isinstance(hold, CacheHold) and hold.held
    assert clock.sleeps == 3
    hold.release()


def test_the_async_wait_is_the_same_loop(cache: Cache) -> None:
    blocker = cache.try_hold(exclusive=True)
    assert blocker is not None
    clock, told = FakeClock(), list[int | None]()

    async def main() -> CacheHold | None:
        return await cache.lock.wait_hold_async(
            exclusive=False, timeout=5, on_wait=told.append, clock=clock, sleep=clock.async_sleep
        )

    assert anyio.run(main) is None
    assert len(told) == 1 and clock.sleeps == pytest.approx(50, abs=2)
    blocker.release()
    clock.sleeps = 0
    hold = anyio.run(main)
    assert hold is not None and hold.held and clock.sleeps == 0
    hold.release()


def test_a_run_that_meets_a_long_prune_fails_with_a_clear_error(cache: Cache) -> None:
    blocker = cache.try_hold(exclusive=True)
    assert blocker is not None
    with pytest.raises(PipperError, match="stayed locked by 'pipper cache prune' for 0 s"):
        anyio.run(lambda: cache.hold_for_run(timeout=0))
    blocker.release()
    hold = anyio.run(lambda: cache.hold_for_run(timeout=0))
    assert hold.held
    hold.release()


# -- maintenance: info, verify, prune ------------------------------------------------------------


def test_stats_count_blobs_per_repository(cache: Cache) -> None:
    a, b, c = b"a" * 10, b"b" * 20, b"c" * 40
    for data in (a, b, c):
        _put_blob(cache, data)
    cache.remember(REPO, "pipper/a/v1.pipper", '"1"', _digest(a), len(a))
    cache.remember(REPO, "pipper/b/v1.pipper", '"2"', _digest(b), len(b))
    cache.remember("file:///repo", "pipper/a/v1.pipper", '"3"', _digest(a), len(a))
    cache.save_listing(REPO, "a", [])
    (cache.tmp / ".tmp-1-x.part").write_bytes(b"12345")
    stats = cache.stats()
    assert (stats.entries, stats.size) == (3, 70)
    usage = {u.repository: (u.entries, u.size) for u in stats.repositories}
    assert usage == {REPO: (2, 30), "file:///repo": (1, 10)}
    assert (stats.unindexed_entries, stats.unindexed_size) == (1, 40)
    assert stats.listings == 1
    assert (stats.tmp_files, stats.tmp_size) == (1, 5)


def test_verify_removes_only_the_damaged_blobs(cache: Cache) -> None:
    good, bad = _put_blob(cache, b"good"), _put_blob(cache, b"bad")
    os.chmod(bad, 0o644)
    bad.write_bytes(b"rotten")
    seen: list[str] = []
    report = cache.verify_all(on_entry=lambda entry: seen.append(entry.digest))
    assert report.checked == 2 and len(seen) == 2
    assert [entry.digest for entry in report.damaged] == [_digest(b"bad")]
    assert good.exists() and not bad.exists()
    assert cache.verify_all().damaged == ()


def test_prune_by_age_then_everything(cache: Cache) -> None:
    old, recent = b"old" * 10, b"recent" * 10
    old_path, recent_path = _put_blob(cache, old), _put_blob(cache, recent)
    cache.remember(REPO, "pipper/old/v1.pipper", '"o"', _digest(old), len(old))
    cache.remember(REPO, "pipper/recent/v1.pipper", '"r"', _digest(recent), len(recent))
    cache.save_listing(REPO, "old", [])
    long_ago = time.time() - 10 * 86400
    os.utime(old_path, (long_ago, long_ago))
    cache.tmp.mkdir(exist_ok=True)
    stale, fresh = cache.tmp / ".tmp-1-dead.part", cache.tmp / ".tmp-2-live.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(stale, (long_ago, long_ago))

    leftovers = cache.prune()
    assert (leftovers.entries, leftovers.records, leftovers.tmp_files) == (0, 0, 1)
    assert old_path.exists() and not stale.exists() and fresh.exists()

    by_age = cache.prune(older_than=5 * 86400)
    assert (by_age.entries, by_age.size, by_age.kept) == (1, len(old), 1)
    assert by_age.records == 1  # the old blob's record went with it
    assert not old_path.exists() and recent_path.exists()
    assert cache.lookup(REPO, "pipper/recent/v1.pipper", '"r"') == _digest(recent)

    everything = cache.prune(everything=True)
    assert (everything.entries, everything.kept, everything.records) == (1, 0, 1)
    assert everything.listings == 1 and everything.tmp_files == 1
    assert list(cache.entries()) == []
    assert not any(p.is_file() for p in cache.root.rglob("*") if p.name != "lock")
