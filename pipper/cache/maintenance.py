"""``cache info``, ``cache verify`` and ``cache prune``: looking at the whole store at once.

``prune`` must be called holding the exclusive lock (see ``pipper.cache.locking``), so no run is
using what it removes. ``verify`` needs no exclusive lock: it only removes blobs whose bytes are
already wrong, which no run would use either.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipper.cache.blobs import CacheEntry, rehash
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


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    size: int
    damaged: tuple[CacheEntry, ...]


@dataclass(frozen=True)
class PruneReport:
    entries: int
    size: int
    kept: int
    kept_size: int
    records: int
    listings: int
    tmp_files: int


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
    temporary = list(_files(cache.tmp))
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
        listings=sum(1 for _ in cache.listings.files()),
        tmp_files=len(temporary),
        tmp_size=sum(_size(p) for p in temporary),
    )


def verify(cache: Cache, on_entry: Callable[[CacheEntry], None] | None = None) -> VerifyReport:
    """Rehash every blob; remove (and report) those whose bytes no longer match their name."""
    checked, size = 0, 0
    damaged: list[CacheEntry] = []
    for entry in cache.entries():
        if on_entry is not None:
            on_entry(entry)
        checked += 1
        size += entry.size
        if rehash(entry.path, entry.digest) is False:
            damaged.append(entry)
    return VerifyReport(checked=checked, size=size, damaged=tuple(damaged))


def prune(
    cache: Cache,
    *,
    older_than: float | None = None,
    everything: bool = False,
    now: float | None = None,
) -> PruneReport:
    """Remove blobs not used for ``older_than`` seconds, or every entry with ``everything``.

    Always removes what no running process can need: temporary files older than a day (all of
    them with ``everything``) and index records whose blob is gone. Remembered listings go with
    ``everything``, or when older than ``older_than``.
    """
    cache.records.flush()
    now = time.time() if now is None else now
    cutoff = None if older_than is None else now - older_than
    removed, removed_size, kept, kept_size = 0, 0, 0, 0
    for entry in list(cache.entries()):
        if everything or (cutoff is not None and entry.mtime < cutoff):
            if _unlink(entry.path):
                removed += 1
                removed_size += entry.size
        else:
            kept += 1
            kept_size += entry.size
    records = cache.records.rewrite_all(
        keep=lambda record: not everything and cache.blob_path(str(record["sha256"])).is_file()
    )
    listings = 0
    for path in list(cache.listings.files()):
        old = cutoff is not None and _mtime(path) < cutoff
        if (everything or old) and _unlink(path):
            listings += 1
    tmp_files = 0
    stale = now - STALE_TMP_SECONDS
    folders = (cache.tmp, cache.records.folder, cache.listings.folder, cache.blobs.folder)
    for folder in folders:
        for path in list(_files(folder)):
            in_tmp = folder == cache.tmp
            if not (in_tmp or path.name.startswith(TMP_PREFIX)):
                continue
            if (everything or _mtime(path) < stale) and _unlink(path):
                tmp_files += 1
    for folder in folders[1:]:
        _remove_empty_dirs(folder)
    return PruneReport(
        entries=removed,
        size=removed_size,
        kept=kept,
        kept_size=kept_size,
        records=records,
        listings=listings,
        tmp_files=tmp_files,
    )


def _files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from sorted(p for p in folder.rglob("*") if p.is_file())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
