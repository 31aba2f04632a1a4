"""Atomic file writes: the one place that knows how to never leave a half-written file.

Every file pipper writes under a final name (cache entries, index records, output bundles,
extracted wheels, the repositories file, objects of a local repository) goes through here: bytes
land in a temporary file in the same folder, then ``os.replace`` moves them into place in one
step. A crash or a kill leaves at most a ``.tmp-*`` file, which no reader ever mistakes for a
finished one.

``fsync`` is always the caller's explicit choice: a repository's objects and the user's own
files must survive a power cut once the command said "done", while a cache entry that is lost
in one is merely fetched again (and is rehashed before every use anyway), so the cache skips
the cost.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

TMP_PREFIX = ".tmp-"

_CREATE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def temp_name(suffix: str = "") -> str:
    """A fresh temporary file name: the prefix readers skip, this process, a random part."""
    return f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{suffix}"


@contextlib.contextmanager
def temp_file(
    directory: Path,
    suffix: str = "",
    *,
    dir_fd: int | None = None,
    at_fault: Path | None = None,
) -> Iterator[tuple[Path, BinaryIO]]:
    """A new temporary file in ``directory``; removed unless the caller moved it away, also
    when the process is told to stop (SIGTERM).

    With ``dir_fd`` (an open descriptor of ``directory``) the file is created relative to it,
    so a folder swapped for a link meanwhile cannot redirect it; ``directory`` then only names
    the file in messages. A file-system error while it is written names ``at_fault`` (the
    final name, or the folder), never the temporary name that is gone by the time it is read.
    """
    while True:
        name = temp_name(suffix)
        try:
            where = name if dir_fd is not None else directory / name
            fd = os.open(where, _CREATE, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            continue
        except FileNotFoundError:
            if dir_fd is not None:
                raise
            directory.mkdir(parents=True, exist_ok=True)
            continue
        break
    path = directory / name
    _LIVE.add(path)
    _remove_on_sigterm()
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield path, handle
    except OSError as exc:
        _blame(exc, path, at_fault or directory)
        raise
    finally:
        _LIVE.discard(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name if dir_fd is not None else path, dir_fd=dir_fd)


_LIVE: set[Path] = set()
"""Temporary files of this process that are not finished yet."""

_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES}


def _blame(exc: OSError, tmp: Path, at_fault: Path) -> None:
    """Make ``exc`` name ``at_fault`` when it names ``tmp`` (or no file, for a disk error)."""
    names_tmp = str(tmp) in (exc.filename, exc.filename2)
    if names_tmp or (exc.filename is None and exc.errno in _DISK_ERRORS):
        exc.filename, exc.filename2 = str(at_fault), None


def _remove_on_sigterm() -> None:
    """Once per process (from the main thread): on SIGTERM, remove the unfinished temporary
    files, then end as SIGTERM would have (or as the handler that was there says)."""
    global _previous
    if _previous is not None or threading.current_thread() is not threading.main_thread():
        return
    _previous = signal.getsignal(signal.SIGTERM)
    if _previous is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _on_sigterm)


_previous: Callable[[int, FrameType | None], Any] | int | None = None


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    for path in list(_LIVE):
        with contextlib.suppress(OSError):
            path.unlink()
    if callable(_previous):
        _previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def replace_into(
    tmp: Path,
    target: Path,
    *,
    fsync: bool,
    handle: BinaryIO | None = None,
    mode: int | None = None,
    exclusive: bool = False,
    src_dir_fd: int | None = None,
    dst_dir_fd: int | None = None,
) -> None:
    """The ending of every atomic write: flush, fsync if asked, set the mode, move into place.

    ``exclusive`` links instead of replacing, so the move fails with ``FileExistsError`` when
    ``target`` exists (a conditional put). With ``src_dir_fd``/``dst_dir_fd`` the two names are
    relative to those open folders. ``tmp`` stays behind for the caller's cleanup.
    """
    if handle is not None:
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
        if mode is not None:
            os.fchmod(handle.fileno(), mode)
    elif mode is not None:
        os.chmod(_name(tmp, src_dir_fd), mode, dir_fd=src_dir_fd, follow_symlinks=False)
    source, dest = _name(tmp, src_dir_fd), _name(target, dst_dir_fd)
    try:
        if exclusive:
            os.link(
                source, dest, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd, follow_symlinks=False
            )
        else:
            os.replace(source, dest, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
    except OSError as exc:
        _blame(exc, tmp, target)
        raise
    if fsync:
        _fsync_folder(target.parent, dst_dir_fd)


@contextlib.contextmanager
def atomic_writer(
    path: Path,
    *,
    fsync: bool,
    mode: int | None = None,
    exclusive: bool = False,
    dir_fd: int | None = None,
) -> Iterator[BinaryIO]:
    """Write ``path`` through the yielded handle; it appears only once the block succeeds.

    ``dir_fd``: an open descriptor of ``path``'s folder, to write relative to it.
    """
    with temp_file(path.parent, dir_fd=dir_fd, at_fault=path) as (tmp, handle):
        yield handle
        replace_into(
            tmp,
            path,
            fsync=fsync,
            handle=handle,
            mode=mode,
            exclusive=exclusive,
            src_dir_fd=dir_fd,
            dst_dir_fd=dir_fd,
        )


def atomic_write_bytes(
    path: Path,
    data: bytes,
    *,
    mode: int | None = None,
    fsync: bool = False,
    dir_fd: int | None = None,
) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix."""
    with atomic_writer(path, fsync=fsync, mode=mode, dir_fd=dir_fd) as handle:
        handle.write(data)


def atomic_link_or_copy(source: Path, target: Path) -> str:
    """Place ``source`` at ``target`` by hard link when the file system allows, else by copy.

    Returns ``"link"`` or ``"copy"``. Either way ``target`` appears in one step, and it is a
    regular file: ``source`` is opened without following a link (a link there is an error),
    and what lands at ``target`` is the very file that was opened, or a copy of its bytes.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    src_fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(src_fd, "rb") as src:
        opened = os.fstat(src_fd)
        if not stat.S_ISREG(opened.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(source))
        if _link_as(source, target, opened):  # a new name: the link is the one step
            return "link"
        tmp = target.parent / temp_name(f"-{target.name}")
        try:
            if _link_as(source, tmp, opened):  # replacing a file: link aside, then rename
                replace_into(tmp, target, fsync=False)
                return "link"
            with atomic_writer(target, fsync=False, mode=0o644) as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
            return "copy"
        finally:
            tmp.unlink(missing_ok=True)


def _link_as(source: Path, name: Path, opened: os.stat_result) -> bool:
    """Hard-link ``source`` at the new ``name``; True when what landed there is the very file
    ``opened`` (else nothing is left there: no link possible, the name was taken, or ``source``
    was swapped meanwhile)."""
    try:
        os.link(source, name, follow_symlinks=False)
    except OSError:
        return False
    linked = os.lstat(name)
    if (linked.st_dev, linked.st_ino) == (opened.st_dev, opened.st_ino):
        return True
    name.unlink(missing_ok=True)
    return False


def read_small_file(path: Path, limit: int, kind: str) -> bytes:
    """A user-named file (``kind``: "input file", "lock file") of at most ``limit`` bytes.

    Every problem is a ``UsageError`` naming the file, and an oversized file is never read whole.
    """
    from pipper.errors import UsageError

    try:
        with path.open("rb") as stream:
            blob = stream.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"no such {kind}: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not the {kind} it should be") from None
    except OSError as exc:
        raise UsageError(f"cannot read {kind} {path}: {exc.strerror or exc}") from None
    if len(blob) > limit:
        raise UsageError(f"{path}: {kind} is larger than {limit // 2**20} MiB")
    return blob


def _name(path: Path, dir_fd: int | None) -> str | Path:
    return path.name if dir_fd is not None else path


def _fsync_folder(folder: Path, dir_fd: int | None) -> None:
    """Make a rename durable: the folder's entry is what a power cut could otherwise lose."""
    fd = os.open(folder if dir_fd is None else ".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dir_fd)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
