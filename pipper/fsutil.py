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
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TMP_PREFIX = ".tmp-"

_CREATE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def temp_name(suffix: str = "") -> str:
    """A fresh temporary file name: the prefix readers skip, this process, a random part."""
    return f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{suffix}"


@contextlib.contextmanager
def temp_file(
    directory: Path, suffix: str = "", *, dir_fd: int | None = None
) -> Iterator[tuple[Path, BinaryIO]]:
    """A new temporary file in ``directory``; removed unless the caller moved it away.

    With ``dir_fd`` (an open descriptor of ``directory``) the file is created relative to it,
    so a folder swapped for a link meanwhile cannot redirect it; ``directory`` then only names
    the file in messages.
    """
    while True:
        name = temp_name(suffix)
        try:
            fd = os.open(
                name if dir_fd is not None else directory / name, _CREATE, 0o600, dir_fd=dir_fd
            )
        except FileExistsError:
            continue
        except FileNotFoundError:
            if dir_fd is not None:
                raise
            directory.mkdir(parents=True, exist_ok=True)
            continue
        break
    path = directory / name
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield path, handle
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name if dir_fd is not None else path, dir_fd=dir_fd)


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
    if exclusive:
        os.link(source, dest, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd, follow_symlinks=False)
    else:
        os.replace(source, dest, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
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
    with temp_file(path.parent, dir_fd=dir_fd) as (tmp, handle):
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

    Returns ``"link"`` or ``"copy"``. Either way ``target`` appears in one step.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / temp_name(f"-{target.name}")
    try:
        try:
            os.link(source, tmp)
            how = "link"
        except OSError:
            shutil.copyfile(source, tmp)
            how = "copy"
        replace_into(tmp, target, fsync=False)
    finally:
        tmp.unlink(missing_ok=True)
    return how


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
