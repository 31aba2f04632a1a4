"""Blobs known intact since a run last checked them, so the next run need not rehash them.

A blob is checked before every use (``blobs.py``). Doing it by rehashing cost a warm run of a
200-package graph 70-85 ms of CPU (46 MB), reading each bundle's zip for its meta 27-49 ms
more, and a worker-thread hop per bundle, whose contention for the GIL doubled the system
time. So a run that hashed a blob (or wrote it from a download it hashed) *seals* it: when the
run lets go of the cache, it touches each blob it used (``prune --older-than`` keeps what is
used), setting its modification time to that moment to the nanosecond, then records the file's
identity, device, inode, size and ``st_mtime_ns``, with the bundle's meta, in one file,
``seals.json``. A write to the file (an editor, a hard-linked output file changed in place)
sets its modification time to the kernel's clock, which does not land on the very nanosecond
pipper set; a copy or a replacement is another inode. So a blob whose ``lstat`` still matches
its seal holds the bytes the seal vouched for, and its meta is the one its zip held: one
``lstat`` on the event loop, no hashing, no zip, no thread. Anything else (no seal, another
inode or size or time) is rehashed as before. The change time would have been stricter, but
removing a hard link to the blob (``rm -r vendor`` before the next download) changes it too.
A blob whose seal matched and was set within the hour (``FRESH_NS``) is left as it is: a run
right after another (a warm or ``--offline`` build) touches nothing and writes no seal file.

What a seal cannot see: a program that writes the bytes and then sets the time back on
purpose, or bytes damaged on the disk beneath the file system; ``pipper cache verify``
rehashes every blob whatever its seal says. The file is a hint like the index records: one
that cannot be parsed, or an entry of the wrong shape, is no seal, and two runs that write it
at once only cost the loser's seals (each writes the union of what it read and what it learnt).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipper.cache.blobs import DIGEST
from pipper.cache.layout import UnsafeCacheError, walk

log = logging.getLogger(__name__)

SEALS = "seals.json"
SEALS_LIMIT = 64 * 2**20
"""The largest seal file read; anything larger is not ours."""
KEEP = 20_000
"""Seals kept: the most recently used, so a cache of many old blobs costs no slower start."""
FRESH_NS = 3600 * 10**9
"""A blob whose seal matched and was set less than this long ago is neither touched nor sealed
again: back-to-back runs write nothing, and ``prune --older-than`` sees each use to within an
hour."""

Seal = list[Any]
"""``[st_dev, st_ino, st_size, st_mtime_ns, meta]``, the meta a dict or None (a public wheel)."""


def identity(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


class Seals:
    """The seals of one cache, read once per run, written once when the run lets go of it."""

    def __init__(self, root: Path, blob_path: Callable[[str], Path]) -> None:
        self.root = root
        self._blob_path = blob_path
        self._known: dict[str, Seal] | None = None
        self._used: dict[str, Mapping[str, Any] | None] = {}
        self._matched: set[str] = set()

    def intact(self, digest: str) -> tuple[Path, Mapping[str, Any] | None] | None:
        """The blob's path and sealed meta when its file is the one sealed; else None."""
        seal = self._load().get(digest)
        if seal is None:
            return None
        path = self._blob_path(digest)
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or seal[:4] != identity(st):
            return None
        self._matched.add(digest)
        return path, seal[4]

    def used(self, digest: str, meta: Mapping[str, Any] | None = None) -> None:
        """Note a blob this run used, checked (hashed, or its seal matched): touched and sealed
        at ``flush``. ``meta``: a bundle's ``package.meta``, kept so the next run opens no zip."""
        if meta is None:  # a bundle's meta depends on its bytes alone: keep what is known
            meta = self._used.get(digest) or (self._load().get(digest) or [None] * 5)[4]
        self._used[digest] = dict(meta) if meta is not None else None

    def forget(self, digest: str) -> None:
        """A blob found damaged: it is not sealed at the end of the run, whatever came before."""
        self._used.pop(digest, None)
        self._matched.discard(digest)
        if self._known is not None:
            self._known.pop(digest, None)

    def flush(self) -> None:
        """Touch and seal the blobs this run used, merged into the file: one write per run.

        Best effort: a cache that cannot be written only loses the shortcut.
        """
        if not self._used:
            return
        used, self._used = self._used, {}
        now = time.time_ns()
        known = self._load()
        for digest in self._matched & used.keys():
            seal = known.get(digest)
            if seal is not None and seal[3] > now - FRESH_NS:
                del used[digest]  # sealed a moment ago, and still the file sealed
        if not used:
            return
        fresh: dict[str, Seal] = {}
        for digest, meta in used.items():
            path = self._blob_path(digest)
            try:
                os.utime(path, ns=(now, now), follow_symlinks=False)
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                fresh[digest] = [*identity(st), meta]
        try:
            with walk(self.root, (), fixed=0, create=True) as folder:
                assert folder is not None
                merged = _read(folder.read(SEALS, SEALS_LIMIT))
                for digest in fresh:
                    merged.pop(digest, None)  # re-inserted last: the most recently used
                merged.update(fresh)
                kept = dict(list(merged.items())[-KEEP:])
                folder.write(SEALS, json.dumps({"seals": kept}, separators=(",", ":")).encode())
                self._known = kept
        except (OSError, UnsafeCacheError) as exc:
            log.debug("could not write the seals of %s: %s", self.root, exc)

    def drop_all(self) -> None:
        """Remove the seal file (``cache prune --all``): nothing is vouched for any more."""
        self._known, self._used = {}, {}
        with walk(self.root, (), fixed=0, create=False) as folder:
            if folder is not None:
                folder.unlink(SEALS)

    def _load(self) -> dict[str, Seal]:
        if self._known is None:
            with walk(self.root, (), fixed=0, create=False) as folder:
                raw = folder.read(SEALS, SEALS_LIMIT) if folder is not None else None
            self._known = _read(raw)
        return self._known


def _read(raw: bytes | None) -> dict[str, Seal]:
    """The well-formed seals of a file's bytes; anything else is no seal."""
    if raw is None:
        return {}
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    seals = doc.get("seals") if isinstance(doc, dict) else None
    if not isinstance(seals, dict):
        return {}
    return {
        digest: seal
        for digest, seal in seals.items()
        if DIGEST.fullmatch(digest)
        and isinstance(seal, list)
        and len(seal) == 5
        and all(type(n) is int for n in seal[:4])
        and (seal[4] is None or isinstance(seal[4], dict))
    }
