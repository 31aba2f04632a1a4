"""Wheels ready for the installer at stable paths: ``extracted/<digest>/<wheel file name>``.

pip and uv install wheel *files*, and a bundle holds its wheel inside a zip. Extracting it into
a new temporary folder on every install costs a write of every byte, and costs uv far more: uv
keys its own cache of unpacked wheels by a local wheel's path and its change time, so a wheel
it has never seen at that path is unzipped again, every run. So each wheel is extracted once,
into a folder named by the sha256 of the blob it came from (the bundle's, or for a public wheel
its own), and handed to the installer at that same path from then on.

An extracted wheel is *sealed*: read-only, and its folder's modification time set to the
wheel's change time (``st_ctime_ns``, to the nanosecond). Any write, ``chmod``, rename or hard
link changes a file's ctime, and no program can set it back, so a wheel whose ctime still
equals its folder's mtime has not been changed since pipper wrote it; that is exactly the
test uv applies before it reuses its unpacked copy. A wheel found unsealed, or anything that is
not a regular file where it belongs, is extracted again and put in its place (an atomic
rename, never a removal first, so an installer of another run that holds the old path still
reads a whole file). The blob it came from is checked on every use, as every blob is; the
extracted bytes are checked in full by ``cache verify`` (``intact``), and an extracted wheel
goes with its blob in ``cache prune`` (the wheel of a ``.pipper`` file outside the cache, as
``install --from`` reads them, has no blob and goes at any prune: it is extracted again).

As everywhere in the cache, nothing is reached through a link: folders are opened one
``O_NOFOLLOW`` step at a time, and renames and removals name entries relative to them.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pipper.cache.blobs import DIGEST, HASH_CHUNK, Blobs
from pipper.cache.layout import Folder, subfolders, walk
from pipper.errors import IntegrityError
from pipper.fsutil import TMP_PREFIX, replace_into, temp_file

__all__ = [
    "EXTRACTED",
    "WHEEL_MODE",
    "ExtractedWheel",
    "ExtractedWheels",
    "intact",
    "plain_wheel_name",
    "sealed",
]

EXTRACTED = "extracted"
WHEEL_MODE = 0o444

Writer = Callable[[IO[bytes]], None]


def sealed(wheel: os.stat_result, folder: os.stat_result) -> bool:
    """True when ``wheel`` is a read-only regular file unchanged since its folder was sealed."""
    return (
        stat.S_ISREG(wheel.st_mode)
        and stat.S_IMODE(wheel.st_mode) == WHEEL_MODE
        and wheel.st_ctime_ns == folder.st_mtime_ns
    )


def plain_wheel_name(name: str) -> bool:
    """A name an extracted wheel may have: a plain ``*.whl`` file name, never a path."""
    return (
        name.endswith(".whl")
        and os.path.basename(name) == name
        and not name.startswith((".", TMP_PREFIX))
        and "\x00" not in name
        and len(name) <= 255
    )


@dataclass(frozen=True)
class ExtractedWheel:
    """One entry of the area, as maintenance sees it."""

    digest: str
    name: str
    path: Path
    size: int


class ExtractedWheels:
    """The extracted wheels of one cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / EXTRACTED

    def path(self, digest: str, name: str) -> Path:
        return self.folder / digest / name

    def get(self, digest: str, name: str) -> Path | None:
        """The sealed wheel ``name`` of blob ``digest``, or None (nothing is changed here)."""
        if not DIGEST.fullmatch(digest) or not plain_wheel_name(name):
            return None
        with walk(self.root, (EXTRACTED, digest), fixed=1, create=False) as folder:
            if folder is None:
                return None
            found = folder.lstat(name)
            if found is None or not sealed(found, os.fstat(folder.fd)):
                return None
        return self.path(digest, name)

    def from_bundle(self, digest: str, bundle: Path, name: str) -> Path:
        """The wheel of the bundle ``bundle`` (the blob ``digest``, already checked), extracted
        unless a sealed copy is there."""
        from pipper.bundle import copy_wheel

        return self.get(digest, name) or self._place(
            digest, name, lambda out: copy_wheel(bundle, out)
        )

    def from_wheel(self, digest: str, wheel: Path, name: str) -> Path:
        """A public wheel (the blob ``digest``) under its file name, copied unless a sealed copy
        is there. A copy, not a link: linking would change the blob's ctime, and touching the
        blob when it is used would change the copy's."""
        return self.get(digest, name) or self._place(
            digest, name, lambda out: _copy_hashed(wheel, out, digest)
        )

    def _place(self, digest: str, name: str, write: Writer) -> Path:
        """Write a new copy with ``write`` in ``tmp/``, rename it into its folder, seal it."""
        if not DIGEST.fullmatch(digest) or not plain_wheel_name(name):
            raise ValueError(f"not a digest and wheel name: {digest!r}, {name!r}")
        with (
            walk(self.root, ("tmp",), fixed=1, create=True) as tmp,
            walk(self.root, (EXTRACTED, digest), fixed=1, create=True) as folder,
        ):
            assert tmp is not None and folder is not None
            final = folder.path / name
            with temp_file(tmp.path, ".whl", dir_fd=tmp.fd, at_fault=final) as (path, handle):
                write(handle)
                for attempt in range(2):
                    try:
                        replace_into(
                            path,
                            final,
                            fsync=False,
                            handle=handle,
                            mode=WHEEL_MODE,
                            src_dir_fd=tmp.fd,
                            dst_dir_fd=folder.fd,
                        )
                        break
                    except IsADirectoryError:  # a folder where the wheel belongs: damage
                        if attempt:
                            raise
                        folder.discard(name)
                changed = os.fstat(handle.fileno()).st_ctime_ns  # the rename set it
            os.utime(folder.fd, ns=(changed, changed))
        return final

    # -- maintenance ---------------------------------------------------------------------------

    def walk(self) -> Iterator[tuple[Folder, Folder, os.DirEntry[str]]]:
        """``(area, folder, entry)`` for every entry of every digest folder (temporary files
        skipped); links are never followed."""
        for area, folder in subfolders(self.root, (EXTRACTED,)):
            for entry in folder.entries():
                if not entry.name.startswith(TMP_PREFIX):
                    yield area, folder, entry

    def entries(self) -> Iterator[ExtractedWheel]:
        """The extracted wheels that are regular files (what ``cache info`` counts)."""
        for _, folder, entry in self.walk():
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                yield ExtractedWheel(
                    folder.path.name, entry.name, folder.path / entry.name, st.st_size
                )


def _copy_hashed(wheel: Path, out: IO[bytes], digest: str) -> None:
    """Copy ``wheel`` (opened without following a link) to ``out``; its bytes must hash to
    ``digest`` and open as a zip."""
    fd = os.open(wheel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    hashed = hashlib.sha256()
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IntegrityError(f"{wheel} is not a regular file")
        while chunk := src.read(HASH_CHUNK):
            hashed.update(chunk)
            out.write(chunk)
    out.flush()
    out.seek(0)
    if hashed.hexdigest() != digest or not zipfile.is_zipfile(out):
        raise IntegrityError(f"{wheel} no longer hashes to {digest[:12]}...; not installed")


def intact(blobs: Blobs, folder: Folder, name: str, st: os.stat_result) -> bool:
    """Whether the extracted wheel ``name`` in ``folder`` (``st`` from lstat) holds the bytes of
    the blob its folder names (``cache verify``, after the blobs were checked): a public wheel's
    copy hashes to the digest; a bundle's wheel has the size and CRC-32 of the bundle's entry; a
    wheel whose blob is gone (prune removes it) must at least be a zip whose entries are whole.
    """
    from pipper.bundle import WHEEL_ENTRY, is_whole

    if not stat.S_ISREG(st.st_mode) or not plain_wheel_name(name):
        return False
    fd = folder.open_file(name, discard=False)
    if fd is None:
        return False
    digest = folder.path.name
    with os.fdopen(fd, "rb") as handle:
        hashed, crc, size = hashlib.sha256(), 0, 0
        while chunk := handle.read(HASH_CHUNK):
            hashed.update(chunk)
            crc, size = zlib.crc32(chunk, crc), size + len(chunk)
        handle.seek(0)
        if hashed.hexdigest() == digest:
            return zipfile.is_zipfile(handle)
        entry = _wheel_entry(blobs, digest, WHEEL_ENTRY)
        if entry is None:
            return is_whole(handle)
        return (entry.CRC, entry.file_size) == (crc, size) and zipfile.is_zipfile(handle)


def _wheel_entry(blobs: Blobs, digest: str, entry: str) -> zipfile.ZipInfo | None:
    """The wheel entry of the bundle blob ``digest``, if that blob is there and a bundle."""
    if not DIGEST.fullmatch(digest):
        return None
    with walk(blobs.root, ("blobs", "sha256", digest[:2]), fixed=2, create=False) as shard:
        fd = shard.open_file(digest, discard=False) if shard is not None else None
        if fd is None:
            return None
        with os.fdopen(fd, "rb") as handle:
            try:
                with zipfile.ZipFile(handle) as zf:
                    return zf.getinfo(entry)
            except (zipfile.BadZipFile, KeyError, OSError, ValueError):
                return None
