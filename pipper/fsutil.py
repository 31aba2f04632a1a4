"""Atomic file writes: the one place that knows how to never leave a half-written file.

Every file pipper writes under a final name (cache entries, index records, output bundles,
extracted wheels, the repositories file) goes through here: bytes land in a temporary file in the
same folder, then ``os.replace`` moves them into place in one step. A crash or a kill leaves at most
a ``.tmp-*`` file, which no reader ever mistakes for a finished one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def temp_file(directory: Path, suffix: str = "") -> Iterator[tuple[Path, BinaryIO]]:
    """A new temporary file in ``directory``; removed unless the caller moved it away."""
    try:
        fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=suffix, dir=directory)
    except FileNotFoundError:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=suffix, dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield path, handle
    finally:
        path.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix."""
    with temp_file(path.parent) as (tmp, handle):
        handle.write(data)
        handle.flush()
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)


def atomic_link_or_copy(source: Path, target: Path) -> str:
    """Place ``source`` at ``target`` by hard link when the file system allows, else by copy.

    Returns ``"link"`` or ``"copy"``. Either way ``target`` appears in one step.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name}"
    try:
        try:
            os.link(source, tmp)
            how = "link"
        except OSError:
            shutil.copyfile(source, tmp)
            how = "copy"
        os.replace(tmp, target)
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
