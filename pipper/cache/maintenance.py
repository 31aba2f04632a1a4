"""``cache info``, ``cache verify`` and ``cache prune``: looking at the whole store at once.

``prune`` must be called holding the exclusive lock (see ``pipper.cache.locking``), so no run is
using what it removes. ``verify`` needs no exclusive lock: it only removes blobs whose bytes are
already wrong, which no run would use either.

Both remove files, so both first make sure the folder is a pipper cache (``CACHEDIR.TAG``) whose
folders are real folders of the cache root's owner (``layout.check``), and then act only through
open folders, never through a path a link could redirect: a link planted anywhere below the
root is refused or removed itself, never followed.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from os import stat_result
from pathlib import Path
from typing import TYPE_CHECKING

from pipper.bundle import is_whole
from pipper.cache import layout
from pipper.cache.blobs import CacheEntry, rehash
from pipper.cache.extracted import EXTRACTED, ExtractedWheel, intact, plain_wheel_name
from pipper.cache.layout import Folder, UnsafeCacheError, subfolders, walk
from pipper.fsutil import TMP_PREFIX

if TYPE_CHECKING:
    from pipper.cache import Cache

STALE_TMP_SECONDS = 24 * 3600
"""A temporary file this old belongs to a process that died; prune removes it."""


@dataclass(frozen=True)
class RepositoryUsage:
    repository: str
    entries: int
    size: int


@dataclass(frozen=True)
class CacheStats:
    """``cache info``: a blob shared by two repositories counts in both of their lines."""

    root: Path
    entries: int
    size: int
    repositories: tuple[RepositoryUsage, ...]
    unindexed_entries: int
    unindexed_size: int
    listings: int
    tmp_files: int
    tmp_size: int
    extracted: int = 0
    """Wheels extracted for the installer (``extracted/``), and their size."""
    extracted_size: int = 0


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    size: int
    damaged: tuple[CacheEntry, ...]
    extracted_checked: int = 0
    extracted_damaged: tuple[ExtractedWheel, ...] = ()


@dataclass(frozen=True)
class PruneReport:
    """What a prune actually removed (and kept)."""

    entries: int
    size: int
    kept: int
    kept_size: int
    records: int
    listings: int
    tmp_files: int
    damaged: int = 0
    """Things that were no regular file where a blob or an extracted wheel belongs (links,
    FIFOs, folders)."""
    extracted: int = 0
    """Extracted wheels removed: all with ``everything``, else those whose blob is gone."""


def check_removable(cache: Cache) -> None:
    """Refuse (``UnsafeCacheError``) to remove anything from a folder that is not a marked
    pipper cache, or whose folders are links or another user's."""
    if not layout.is_marked(cache.root):
        raise UnsafeCacheError(
            f"{cache.root} is not marked as a pipper cache (no {layout.TAG_NAME} in it), so "
            "nothing was removed; pipper marks a cache when a download, lock or install first "
            "uses it"
        )
    layout.check(cache.root, strict=True)


def stats(cache: Cache) -> CacheStats:
    """What the cache holds: every blob, and per repository the blobs its index names."""
    cache.records.flush()
    blobs = {entry.digest: entry for entry in cache.entries()}
    by_repository: dict[str, set[str]] = {}
    for record in cache.records.all():
        digest = record.get("sha256")
        if isinstance(digest, str) and digest in blobs:
            by_repository.setdefault(str(record.get("repository", "?")), set()).add(digest)
    indexed = set().union(*by_repository.values()) if by_repository else set()
    unindexed = [entry for digest, entry in blobs.items() if digest not in indexed]
    temporary = [st for _, _, st in _temporary(cache)]
    extracted = list(cache.extracted.entries())
    return CacheStats(
        root=cache.root,
        entries=len(blobs),
        size=sum(entry.size for entry in blobs.values()),
        repositories=tuple(
            RepositoryUsage(
                repository=repository,
                entries=len(digests),
                size=sum(blobs[d].size for d in digests),
            )
            for repository, digests in sorted(by_repository.items())
        ),
        unindexed_entries=len(unindexed),
        unindexed_size=sum(entry.size for entry in unindexed),
        listings=cache.listings.count(),
        tmp_files=len(temporary),
        tmp_size=sum(st.st_size for st in temporary),
        extracted=len(extracted),
        extracted_size=sum(wheel.size for wheel in extracted),
    )


def verify(cache: Cache, on_entry: Callable[[CacheEntry], None] | None = None) -> VerifyReport:
    """Rehash every blob; remove (and report) those whose bytes no longer match their name or
    whose zip entries fail their CRC-32, and anything that is no regular file where a blob
    belongs. Then read every extracted wheel in full (``_verify_extracted``)."""
    check_removable(cache)
    checked, size = 0, 0
    damaged: list[CacheEntry] = []
    for shard, found in cache.blobs.walk():
        try:
            st = found.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        entry = CacheEntry(found.name, shard.path / found.name, st.st_size, st.st_mtime)
        if on_entry is not None:
            on_entry(entry)
        checked += 1
        size += st.st_size
        if rehash(shard, found.name, found.name, also=is_whole) is False:
            damaged.append(entry)
    wheels, broken = _verify_extracted(cache)
    return VerifyReport(checked, size, tuple(damaged), wheels, tuple(broken))


def _verify_extracted(cache: Cache) -> tuple[int, list[ExtractedWheel]]:
    """Check every extracted wheel against the blob it came from (``extracted.intact``), after
    the blobs were checked; remove what fails and anything that is no regular file there."""
    checked, broken = 0, []
    _remove_strays(cache)
    for _, folder, entry in cache.extracted.walk():
        st = entry.stat(follow_symlinks=False)
        checked += 1
        wheel = ExtractedWheel(folder.path.name, entry.name, folder.path / entry.name, st.st_size)
        if not intact(cache.blobs, folder, entry.name, st):
            folder.remove_if_same(entry.name, st)
            broken.append(wheel)
    return checked, broken


def _remove_strays(cache: Cache) -> int:
    """Remove what is no folder directly in ``extracted/`` (a file, a link): damage."""
    removed = 0
    with walk(cache.root, (EXTRACTED,), fixed=1, create=False) as area:
        if area is None:
            return 0
        for entry in area.entries():
            if not entry.is_dir(follow_symlinks=False) and not entry.name.startswith(TMP_PREFIX):
                removed += area.remove_if_same(entry.name, entry.stat(follow_symlinks=False))
    return removed


def prune(
    cache: Cache,
    *,
    older_than: float | None = None,
    everything: bool = False,
    now: float | None = None,
) -> PruneReport:
    """Remove blobs not used for ``older_than`` seconds, or every entry with ``everything``.

    Always removes what no running process can need: temporary files older than a day (all of
    them with ``everything``), index records whose blob is gone and things that are no regular
    file where a blob belongs. Remembered listings go with ``everything``, or when older than
    ``older_than``. Every count in the report is of files really removed.
    """
    cache.records.flush()
    check_removable(cache)
    now = time.time() if now is None else now
    cutoff = None if older_than is None else now - older_than
    removed, removed_size, kept, kept_size, damaged = 0, 0, 0, 0, 0
    for shard, found in cache.blobs.walk():
        st = shard.lstat(found.name)
        if st is None:
            continue
        if not stat.S_ISREG(st.st_mode):
            damaged += shard.remove_if_same(found.name, st)
        elif everything or (cutoff is not None and st.st_mtime < cutoff):
            if shard.remove_if_same(found.name, st):
                removed += 1
                removed_size += st.st_size
        else:
            kept += 1
            kept_size += st.st_size
    records = cache.records.rewrite_all(
        keep=lambda record: not everything and cache.blobs.present(str(record["sha256"]))
    )
    extracted, strays = _prune_extracted(cache, everything)
    damaged += strays
    listings = cache.listings.prune(cutoff, everything=everything)
    tmp_files = 0
    stale = now - STALE_TMP_SECONDS
    for folder, name, st in _temporary(cache):
        if (everything or st.st_mtime < stale) and folder.remove_if_same(name, st):
            tmp_files += 1
    for parent, folder in _entry_folders(cache):
        parent.rmdir(folder.path.name)
    return PruneReport(
        entries=removed,
        size=removed_size,
        kept=kept,
        kept_size=kept_size,
        records=records,
        listings=listings,
        tmp_files=tmp_files,
        damaged=damaged,
        extracted=extracted,
    )


def _prune_extracted(cache: Cache, everything: bool) -> tuple[int, int]:
    """Remove every extracted wheel (``everything``), or those whose blob is gone, and what is
    no regular wheel file there; returns the wheels and the damaged things removed."""
    removed, damaged = 0, _remove_strays(cache)
    for _, folder, entry in cache.extracted.walk():
        st = entry.stat(follow_symlinks=False)
        regular = stat.S_ISREG(st.st_mode) and plain_wheel_name(entry.name)
        if not regular:
            damaged += folder.remove_if_same(entry.name, st)
        elif everything or not cache.blobs.present(folder.path.name):
            removed += folder.remove_if_same(entry.name, st)
    return removed, damaged


def _entry_folders(cache: Cache) -> Iterator[tuple[Folder, Folder]]:
    """Every blob shard, repository folder and extracted wheel's folder, with its parent."""
    for parts in (("blobs", "sha256"), ("index",), ("listings",), (EXTRACTED,)):
        yield from subfolders(cache.root, parts)


def _temporary(cache: Cache) -> Iterator[tuple[Folder, str, stat_result]]:
    """Every file in ``tmp/``, and every temporary file left in another folder of the cache."""
    with walk(cache.root, ("tmp",), fixed=1, create=False) as tmp:
        if tmp is not None:
            for entry in tmp.entries():
                st = entry.stat(follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    yield tmp, entry.name, st
    for _, folder in _entry_folders(cache):
        for entry in folder.entries():
            if entry.name.startswith(TMP_PREFIX):
                yield folder, entry.name, entry.stat(follow_symlinks=False)
