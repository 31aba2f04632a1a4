"""Remembered listings (``pipper.cache.listings``): one file per run, the newest listing of each
name wins, merging never loses one, and whatever cannot be read is no listing."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipper.cache import Cache
from pipper.cache.listings import RUN_FILE, Listings
from pipper.cache.records import COMPACT_AT, short
from pipper.storage.base import ObjectInfo

REPO = "s3://bucket/pipper"


def objects(name: str, *versions: int) -> list[ObjectInfo]:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return [
        ObjectInfo(key=f"pipper/{name}/v{v}.pipper", size=v, etag=f'"{v}"', last_modified=when)
        for v in versions
    ]


def folder_of(root: Path) -> Path:
    return root / "listings" / short(REPO)


def files(root: Path) -> list[str]:
    folder = folder_of(root)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_runs_package_listings_are_one_file_written_when_it_lets_go(tmp_path: Path) -> None:
    listings = Listings(tmp_path)
    for n in range(50):
        listings.save(REPO, f"pkg{n}", objects(f"pkg{n}", n))
    assert files(tmp_path) == []  # nothing written yet: the run still holds them
    assert listings.load(REPO, "pkg7") == objects("pkg7", 7)  # but it sees them
    listings.flush()
    (written,) = files(tmp_path)
    assert written.startswith(RUN_FILE)
    fresh = Listings(tmp_path)
    assert all(fresh.load(REPO, f"pkg{n}") == objects(f"pkg{n}", n) for n in range(50))
    assert fresh.load(REPO, "pkg50") is None and fresh.load("s3://other/pipper", "pkg1") is None
    ages = fresh.ages(REPO)
    assert len(ages) == 50 and all(0 <= age < 60 for age in ages.values())


def test_the_whole_prefix_and_markers_are_written_at_once_and_aged_by_one_stat(
    tmp_path: Path,
) -> None:
    listings = Listings(tmp_path)
    listings.save(REPO, "@catalog", objects("a", 1, 2))
    listings.save(REPO, "@too-big", [])
    assert files(tmp_path) == ["@catalog.json", "@too-big.json"]
    long_ago = time.time() - 3 * 86400
    os.utime(folder_of(tmp_path) / "@too-big.json", (long_ago, long_ago))
    age = Listings(tmp_path).age(REPO, "@too-big")
    assert age is not None and 3 * 86400 - 60 < age < 3 * 86400 + 60
    assert Listings(tmp_path).load(REPO, "@catalog") == objects("a", 1, 2)
    assert Listings(tmp_path).age(REPO, "@nothing") is None


def test_the_newest_listing_of_a_name_wins_whichever_file_holds_it(tmp_path: Path) -> None:
    folder = folder_of(tmp_path)
    folder.mkdir(parents=True)
    # A file of one package, as earlier versions wrote them: two days old.
    older = {"repository": REPO, "objects": []}
    (folder / "a.json").write_text(json.dumps(older))
    (folder / "b.json").write_text(json.dumps(older))
    long_ago = time.time() - 2 * 86400
    for name in ("a.json", "b.json"):
        os.utime(folder / name, (long_ago, long_ago))
    listings = Listings(tmp_path)
    listings.save(REPO, "a", objects("a", 1))
    listings.flush()
    reread = Listings(tmp_path)
    assert reread.load(REPO, "a") == objects("a", 1)  # the run's, newer than a.json
    assert reread.load(REPO, "b") == []  # only the old file has it
    # A newer file of one package beats an older run's listing.
    (folder / "a.json").write_text(json.dumps({"repository": REPO, "objects": []}))
    os.utime(folder / "a.json", (time.time() + 60, time.time() + 60))
    assert Listings(tmp_path).load(REPO, "a") == []


def test_run_files_are_merged_without_losing_a_listing(tmp_path: Path) -> None:
    for n in range(COMPACT_AT - 2):
        one = Listings(tmp_path)
        one.save(REPO, f"pkg{n}", objects(f"pkg{n}", n))
        one.save(REPO, "shared", objects("shared", n))  # each run lists it anew
        one.flush()
    assert len(files(tmp_path)) == COMPACT_AT - 2
    # Two runs flush one after the other past the threshold: the second merges both.
    first, second = Listings(tmp_path), Listings(tmp_path)
    first.save(REPO, "first", objects("first", 1))
    second.save(REPO, "second", objects("second", 2))
    first.flush()
    second.flush()
    assert len(files(tmp_path)) == 1
    merged = Listings(tmp_path)
    assert merged.load(REPO, "first") == objects("first", 1)
    assert merged.load(REPO, "second") == objects("second", 2)
    assert all(merged.load(REPO, f"pkg{n}") == objects(f"pkg{n}", n) for n in range(COMPACT_AT - 2))
    assert merged.load(REPO, "shared") == objects("shared", COMPACT_AT - 3)  # the newest run's


@pytest.mark.parametrize(
    "damage",
    [
        b"{not json",
        b'{"listings": []}',
        b'{"listings": {"x": {"made": "then", "objects": []}}}',
        b'{"listings": {"x": {"made": 1, "objects": [{"key": "k"}]}}}',
        b"[" * 100_000,
    ],
    ids=["not-json", "no-mapping", "bad-time", "bad-object", "deep"],
)
def test_a_damaged_file_is_no_listing_and_the_others_still_read(
    tmp_path: Path, damage: bytes
) -> None:
    listings = Listings(tmp_path)
    listings.save(REPO, "good", objects("good", 1))
    listings.flush()
    (folder_of(tmp_path) / f"{RUN_FILE}0-1-bad.json").write_bytes(damage)
    reread = Listings(tmp_path)
    assert reread.load(REPO, "good") == objects("good", 1)
    assert reread.load(REPO, "x") is None
    assert set(reread.ages(REPO)) == {"good"}


def test_count_and_prune_by_age_then_everything(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.prepare()  # marked as a cache, so prune may remove
    old = Listings(tmp_path)
    old.save(REPO, "old1", [])
    old.save(REPO, "old2", [])
    old.flush()
    (old_file,) = files(tmp_path)
    long_ago = time.time() - 10 * 86400
    doc = json.loads((folder_of(tmp_path) / old_file).read_text())
    for one in doc["listings"].values():
        one["made"] = long_ago  # the time inside the file is the listing's age, not the mtime
    (folder_of(tmp_path) / old_file).write_text(json.dumps(doc))
    cache.save_listing(REPO, "recent", [])
    cache.save_listing(REPO, "@catalog", [])
    assert cache.stats().listings == 4
    report = cache.prune(older_than=5 * 86400)
    assert report.listings == 2
    assert old_file not in files(tmp_path)
    assert Cache(tmp_path).load_listing(REPO, "recent") == []
    assert cache.prune(everything=True).listings == 2
    assert files(tmp_path) == [] and Cache(tmp_path).stats().listings == 0


def test_prune_removes_a_file_that_is_no_listing_but_keeps_recent_ones(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.prepare()
    cache.save_listing(REPO, "kept", objects("kept", 1))
    cache.listings.flush()
    damaged = folder_of(tmp_path) / f"{RUN_FILE}0-1-damaged.json"
    damaged.write_bytes(b"{not json")
    report = cache.prune(older_than=86400)
    assert report.listings == 0  # the damaged file held none
    assert not damaged.exists()
    assert Cache(tmp_path).load_listing(REPO, "kept") == objects("kept", 1)
