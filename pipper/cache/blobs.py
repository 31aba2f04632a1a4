"""Bundles stored by the sha256 of their bytes: ``blobs/sha256/<ab>/<digest>``.

A blob's name is a promise about its bytes, and the bytes can break the promise (a disk error,
a hard-linked output file edited in place), so a blob is checked before every use: rehashed,
unless its file is the one a run sealed after hashing it (``seals.py``). The one routine that
hashes and, on a mismatch, throws the blob away (``rehash``) serves the download path and
``cache verify`` alike; it removes the very file it hashed, never a good copy another process
committed under the same name meanwhile. Something that is not a regular file where a blob
belongs (a link, a FIFO, a folder) is damage like wrong bytes: removed, never followed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipper.cache.layout import Folder, subfolders, walk
from pipper.fsutil import TMP_PREFIX, replace_into, temp_file
from pipper.storage.base import CHUNK_SIZE

HASH_CHUNK = 4 * CHUNK_SIZE
DIGEST = re.compile(r"[0-9a-f]{64}")
BLOB_MODE = 0o444
_BLOBS = ("blobs", "sha256")


def sha256_of(handle: BinaryIO) -> str:
    """The hex sha256 of everything left in ``handle``, read in chunks (never whole)."""
    digest = hashlib.sha256()
    while chunk := handle.read(HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_of(handle)


def rehash(
    folder: Folder, name: str, digest: str, *, also: Callable[[BinaryIO], bool] | None = None
) -> bool | None:
    """True when the blob ``name`` in ``folder`` hashes to ``digest`` (and passes ``also``, a
    further check of the same open file); False when it does not, or is no regular file
    (either way it was removed); None when there is no such blob.

    The file hashed is the one removed (same inode), so a good copy that another process
    committed while this one was hashing the damaged one is never thrown away.
    """
    before = folder.lstat(name)
    if before is None:
        return None
    fd = folder.open_file(name)  # removes a link, a FIFO, a folder... found there
    if fd is None:  # not a regular file (now removed), or gone or unreadable meanwhile
        return None if stat.S_ISREG(before.st_mode) else False
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        intact = sha256_of(handle) == digest
        if intact and also is not None:
            handle.seek(0)
            intact = also(handle)
    if intact:
        return True
    folder.remove_if_same(name, st)
    return False


@dataclass(frozen=True)
class CacheEntry:
    """One blob in the store."""

    digest: str
    path: Path
    size: int
    mtime: float


class PendingBlob:
    """A download being written in ``tmp/``; ``commit`` moves it under its digest."""

    def __init__(self, blobs: Blobs, tmp: Folder, path: Path, handle: BinaryIO) -> None:
        self._blobs = blobs
        self._tmp = tmp
        self.path = path
        self.handle = handle

    def commit(self, digest: str) -> Path:
        """Move the finished, verified bytes into place under ``digest``, read-only."""
        with walk(self._blobs.root, (*_BLOBS, digest[:2]), fixed=2, create=True) as shard:
            assert shard is not None
            for _ in range(2):
                try:
                    replace_into(
                        self.path,
                        shard.path / digest,
                        fsync=False,
                        handle=self.handle,
                        mode=BLOB_MODE,
                        src_dir_fd=self._tmp.fd,
                        dst_dir_fd=shard.fd,
                    )
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                        raise
                    shard.discard(digest)  # a folder where the blob belongs
        return self._blobs.path(digest)


class Blobs:
    """The blob folder of one cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root.joinpath(*_BLOBS)

    def path(self, digest: str) -> Path:
        return self.folder / digest[:2] / digest

    def present(self, digest: str) -> bool:
        """A regular file is where the blob would be (not hashed: see ``verified``)."""
        if not DIGEST.fullmatch(digest):
            return False
        try:
            return stat.S_ISREG(os.lstat(self.path(digest)).st_mode)
        except OSError:
            return False

    def verified(self, digest: str) -> Path | None:
        """The blob's path if it is a regular file whose bytes still hash to its name.

        A damaged blob is removed here so the caller fetches it again.
        """
        if not DIGEST.fullmatch(digest):
            return None  # a name from a header or a record, never a path
        with walk(self.root, (*_BLOBS, digest[:2]), fixed=2, create=False) as shard:
            if shard is None or not rehash(shard, digest, digest):
                return None
        return self.path(digest)

    @contextlib.contextmanager
    def pending(self, suffix: str = ".part") -> Iterator[PendingBlob]:
        """A new file in ``tmp/`` for a download; removed unless it was committed."""
        with (
            walk(self.root, ("tmp",), fixed=1, create=True) as tmp,
            temp_file(self.root / "tmp", suffix, dir_fd=tmp.fd if tmp else None) as (path, out),
        ):
            assert tmp is not None
            yield PendingBlob(self, tmp, path, out)

    def walk(self) -> Iterator[tuple[Folder, os.DirEntry[str]]]:
        """Every entry where a blob belongs, with its open shard folder; links not followed."""
        for _, shard in subfolders(self.root, _BLOBS):
            for entry in shard.entries():
                if not entry.name.startswith(TMP_PREFIX):
                    yield shard, entry

    def entries(self) -> Iterator[CacheEntry]:
        """The blobs that are regular files (what ``cache info`` counts)."""
        for shard, entry in self.walk():
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.is_file(follow_symlinks=False):
                yield CacheEntry(entry.name, shard.path / entry.name, st.st_size, st.st_mtime)

    def touch(self, path: Path) -> None:
        """Mark a blob as used now, so ``prune --older-than`` keeps what is in use."""
        try:
            now = time.time()
            os.utime(path, (now, now), follow_symlinks=False)
        except OSError:
            pass
