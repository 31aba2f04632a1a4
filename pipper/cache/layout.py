"""Where each part of a cache lives, and how to reach it without ever following a link.

A cache can be shared, and whoever can write into it can put a symbolic link, a FIFO or a
folder where pipper expects something else. So nothing below the cache root is reached through
a path the kernel resolves link by link: each folder is opened relative to its parent with
``O_NOFOLLOW``, each file with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO cannot block the open) and
then checked to be a regular file, and every removal and rename names an entry relative to an
open folder. The root itself may be a link: it is the user's choice.

Two kinds of folders: the fixed ones (``FIXED``) make the cache what it is, and one that is a
link or not a folder makes the whole cache unusable (``UnsafeCacheError``). Below them, a
shard of blobs or a repository's folder that is not a real folder is damage: a run does not
follow it and replaces it with a folder when it writes there. Maintenance is stricter, since it
removes things and may run as another user than the one who filled the cache (``check``).

``CACHEDIR.TAG`` marks a folder as a pipper cache (and tells backup tools to skip it); the
commands that remove things refuse a folder without it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from pipper.errors import PipperError, UsageError
from pipper.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

FIXED = ("blobs", "blobs/sha256", "index", "listings", "tmp", "extracted")
"""The folders every cache has (once used), relative to its root."""
PER_ENTRY = ("blobs/sha256", "index", "listings", "extracted")
"""Fixed folders whose subfolders belong to entries (a blob shard, a repository, the wheel
extracted from one blob)."""

TAG_NAME = "CACHEDIR.TAG"
TAG_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
TAG = TAG_SIGNATURE + (
    b"\n# This file is a cache directory tag created by pipper.\n"
    b"# For information about cache directory tags, see https://bford.info/cachedir/\n"
)

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NOT_A_FOLDER = (errno.ELOOP, errno.ENOTDIR)


class UnsafeCacheError(PipperError):
    """The cache's own folders are links, not folders, or another user's: nothing is touched."""


def unsafe(path: Path, what: str) -> UnsafeCacheError:
    return UnsafeCacheError(
        f"{path} {what}; pipper never follows links or acts on another user's folders inside "
        "a cache, so nothing was changed (remove it, or use another --cache-dir)"
    )


class Folder:
    """An open folder below the cache root, reached without following a link."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def child(self, name: str, *, create: bool = False, fixed: bool = False) -> Folder | None:
        """The subfolder ``name``; None when it is missing (and not ``create``) or not a folder.

        A link or a file where a fixed folder belongs raises ``UnsafeCacheError``; where an
        entry's folder belongs, ``create`` throws it away and makes the folder.
        """
        for _ in range(3):
            try:
                return Folder(os.open(name, _DIR, dir_fd=self.fd), self.path / name)
            except FileNotFoundError:
                if not create:
                    return None
            except OSError as exc:
                if exc.errno not in _NOT_A_FOLDER:
                    raise
                if fixed:
                    raise unsafe(self.path / name, _what(self.lstat(name))) from None
                if not create:
                    return None
                self.discard(name)
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=self.fd)
        raise OSError(errno.EAGAIN, "kept changing while it was opened", str(self.path / name))

    def open_file(self, name: str, *, discard: bool = True) -> int | None:
        """A descriptor of the regular file ``name``; None when there is none.

        Anything else there (a link, a FIFO, a folder, a device) is damage: it is never
        followed nor waited on, and (with ``discard``) it is removed.
        """
        try:
            fd = os.open(name, _FILE, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except PermissionError:
            return None  # someone else's file we may not read: not ours to remove either
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EOPNOTSUPP):
                raise
            if discard:
                self.discard(name)
            return None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            if discard:
                self.remove_if_same(name, st)
            return None
        return fd

    def read(self, name: str, limit: int, *, discard: bool = True) -> bytes | None:
        """The bytes of the regular file ``name`` if it has at most ``limit``; else None.

        A file over the limit is not one pipper wrote: it is removed (``discard``), and never
        read whole.
        """
        fd = self.open_file(name, discard=discard)
        if fd is None:
            return None
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            data = handle.read(limit + 1) if st.st_size <= limit else b""
        if st.st_size > limit or len(data) > limit:
            log.warning("%s is larger than the cache ever writes; ignored", self.path / name)
            if discard:
                self.remove_if_same(name, st)
            return None
        return data

    def write(self, name: str, data: bytes) -> None:
        """Replace ``name`` atomically; whatever is there (even a link) is replaced, unfollowed."""
        atomic_write_bytes(self.path / name, data, fsync=False, dir_fd=self.fd)

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def entries(self) -> list[os.DirEntry[str]]:
        """What the folder holds, by name; entries' ``stat`` and ``is_*`` never follow links."""
        with os.scandir(self.fd) as found:
            return sorted(found, key=lambda entry: entry.name)

    def unlink(self, name: str) -> bool:
        """Remove the entry ``name`` (a link itself, never its target); False if it was gone."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True

    def discard(self, name: str) -> None:
        """Remove whatever is at ``name``: a folder with what it holds, never through a link."""
        st = self.lstat(name)
        if st is not None:
            self.remove_if_same(name, st)

    def remove_if_same(self, name: str, st: os.stat_result) -> bool:
        """Remove ``name`` only if it is still what ``st`` describes (not a newer good copy)."""
        now = self.lstat(name)
        if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return False
        if stat.S_ISDIR(now.st_mode):
            shutil.rmtree(name, dir_fd=self.fd)  # itself never follows a link (fd-based)
            return True
        return self.unlink(name)

    def rmdir(self, name: str) -> None:
        """Remove the subfolder ``name`` if it is empty."""
        with contextlib.suppress(OSError):
            os.rmdir(name, dir_fd=self.fd)


@contextlib.contextmanager
def walk(root: Path, parts: Sequence[str], *, fixed: int, create: bool) -> Iterator[Folder | None]:
    """The folder ``root/parts...``, opened one link-free step at a time; None if missing.

    The first ``fixed`` parts are fixed folders (see ``Folder.child``); with ``create`` missing
    folders are made, and the root too.
    """
    with contextlib.ExitStack() as stack:
        try:
            fd = _open_root(root, create)
        except (FileNotFoundError, NotADirectoryError):
            if create:
                raise
            yield None
            return
        folder: Folder | None = stack.enter_context(Folder(fd, root))
        for depth, name in enumerate(parts):
            assert folder is not None
            folder = folder.child(name, create=create, fixed=depth < fixed)
            if folder is None:
                break
            stack.enter_context(folder)
        yield folder


def _open_root(root: Path, create: bool) -> int:
    """A descriptor of the folder ``root``, made first (with its parents) only when missing:
    a run opens it hundreds of times, and an ``mkdir`` that finds it there costs as much."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        return os.open(root, flags)
    except FileNotFoundError:
        if not create:
            raise
    root.mkdir(parents=True, exist_ok=True)
    return os.open(root, flags)


def subfolders(root: Path, parts: Sequence[str]) -> Iterator[tuple[Folder, Folder]]:
    """``(parent, folder)`` for each real folder in the fixed folder ``root/parts`` (a blob
    shard, a repository's folder), each open while it is yielded; links are not followed."""
    with walk(root, parts, fixed=len(parts), create=False) as parent:
        if parent is None:
            return
        for entry in parent.entries():
            sub = parent.child(entry.name) if entry.is_dir(follow_symlinks=False) else None
            if sub is not None:
                with sub:
                    yield parent, sub


def check(root: Path, *, strict: bool) -> None:
    """Refuse a cache whose fixed folders are links or not folders (``UnsafeCacheError``).

    ``strict`` (before removing anything): also refuse links in place of an entry's folder,
    and folders owned by another user than the cache root, whose owner could swap what they
    hold while the command works.
    """
    try:
        root_st = os.stat(root)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(root_st.st_mode):
        raise UsageError(f"the cache folder {root} is not a folder (see --cache-dir)")
    owner = root_st.st_uid
    for rel in FIXED:
        path = root / rel
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise unsafe(path, _what(st))
        if strict and st.st_uid != owner:
            raise unsafe(path, _foreign(st, owner))
    if not strict:
        return
    for rel in PER_ENTRY:
        parts = rel.split("/")
        with walk(root, parts, fixed=len(parts), create=False) as folder:
            for entry in folder.entries() if folder is not None else []:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    raise unsafe(root / rel / entry.name, _what(st))
                if stat.S_ISDIR(st.st_mode) and st.st_uid != owner:
                    raise unsafe(root / rel / entry.name, _foreign(st, owner))


def mark(root: Path) -> None:
    """Tag ``root`` as a cache if it is not yet (best effort: a read-only cache stays as it is)."""
    if is_marked(root):
        return
    try:
        with walk(root, (), fixed=0, create=True) as folder:
            assert folder is not None
            folder.write(TAG_NAME, TAG)
    except OSError as exc:
        log.debug("could not mark %s as a cache: %s", root, exc)


def is_marked(root: Path) -> bool:
    with walk(root, (), fixed=0, create=False) as folder:
        data = folder.read(TAG_NAME, 4096, discard=False) if folder else None
    return data is not None and data.startswith(TAG_SIGNATURE)


def _what(st: os.stat_result | None) -> str:
    if st is not None and stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    return "is not a folder"


def _foreign(st: os.stat_result, owner: int) -> str:
    return f"is owned by another user (uid {st.st_uid}) than the cache (uid {owner})"
