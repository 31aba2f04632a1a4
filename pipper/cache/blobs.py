"""Bundles stored by the sha256 of their bytes: ``blobs/sha256/<ab>/<digest>``.

A blob's name is a promise about its bytes, and the bytes can break the promise (a disk error,
a hard-linked output file edited in place), so a blob is rehashed before every use. The one
routine that hashes and, on a mismatch, throws the blob away (``rehash``) serves the download
path and ``cache verify`` alike; it removes the very file it hashed, never a good copy another
process committed under the same name meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipper.fsutil import TMP_PREFIX, replace_into
from pipper.storage.base import CHUNK_SIZE

HASH_CHUNK = 4 * CHUNK_SIZE
DIGEST = re.compile(r"[0-9a-f]{64}")
BLOB_MODE = 0o444


def sha256_of(handle: BinaryIO) -> str:
    """The hex sha256 of everything left in ``handle``, read in chunks (never whole)."""
    digest = hashlib.sha256()
    while chunk := handle.read(HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_of(handle)


def rehash(path: Path, digest: str) -> bool | None:
    """True when the file hashes to ``digest``; False when it does not (and it was removed);
    None when there is no such file.

    The file hashed is the one unlinked (same inode), so a good copy that another process
    committed while this one was hashing the damaged one is never thrown away.
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        st = os.fstat(handle.fileno())
        actual = sha256_of(handle)
    if actual == digest:
        return True
    remove_if_same(path, st)
    return False


def remove_if_same(path: Path, st: os.stat_result) -> None:
    """Unlink ``path`` only if it is still the file ``st`` describes."""
    try:
        now = path.stat()
        if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
            path.unlink()
    except FileNotFoundError:
        pass


@dataclass(frozen=True)
class CacheEntry:
    """One blob in the store."""

    digest: str
    path: Path
    size: int
    mtime: float


class Blobs:
    """The blob folder of one cache."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, digest: str) -> Path:
        return self.folder / digest[:2] / digest

    def verified(self, digest: str) -> Path | None:
        """The blob's path if it exists and its bytes still hash to its name; else None.

        A damaged blob is removed here so the caller fetches it again.
        """
        if not DIGEST.fullmatch(digest):
            return None  # a name from a header or a record, never a path
        path = self.path(digest)
        return path if rehash(path, digest) else None

    def commit(self, tmp: Path, digest: str) -> Path:
        """Move a finished, verified download into place under its digest, read-only."""
        target = self.path(digest)
        try:
            replace_into(tmp, target, fsync=False, mode=BLOB_MODE)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            replace_into(tmp, target, fsync=False, mode=BLOB_MODE)
        return target

    def entries(self) -> Iterator[CacheEntry]:
        if not self.folder.is_dir():
            return
        for sub in sorted(self.folder.iterdir()):
            if not sub.is_dir():
                continue
            for blob in sorted(sub.iterdir()):
                if blob.name.startswith(TMP_PREFIX):
                    continue
                try:
                    st = blob.stat()
                except FileNotFoundError:
                    continue
                yield CacheEntry(blob.name, blob, st.st_size, st.st_mtime)

    def touch(self, path: Path) -> None:
        """Mark a blob as used now, so ``prune --older-than`` keeps what is in use."""
        try:
            now = time.time()
            os.utime(path, (now, now))
        except OSError:
            pass
