"""A directory laid out exactly like a bucket: ``<root>/<prefix>/<name>/<safe_version>.pipper``.

It serves offline mirrors, the quickstart (no AWS account) and tests. Writes are atomic and a
conditional write uses ``os.link``, which fails when the target exists, so two publishers of the
same version cannot both win here either. A compare-and-swap (``put(if_match=...)``) compares
and replaces under an exclusive ``flock`` of one lock file at the root (``.tmp-cas.lock``, which
listings skip like every ``.tmp-`` name), so every such writer of the directory, in any process,
takes its turn. The section holds no ``await``: tasks of one process cannot deadlock on it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import anyio

from pipper.errors import IntegrityError, NotFoundError, VersionExistsError
from pipper.fsutil import atomic_writer
from pipper.storage.base import (
    CHUNK_SIZE,
    FolderKeyUnsupported,
    Listing,
    ObjectChanged,
    ObjectInfo,
    ObjectStream,
    WriteConflict,
)

CAS_LOCK = ".tmp-cas.lock"


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}-{stat.st_ino:x}"'


class LocalStorage:
    """A ``Storage`` over a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests = 0
        self.retries = 0

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
            raise NotFoundError(f"invalid key {key!r}")
        return self.root.joinpath(*parts)

    def _info(self, key: str, path: Path) -> ObjectInfo:
        st = path.stat()
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=_etag(st),
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
        )

    async def list(
        self, prefix: str, *, delimiter: str | None = None, limit: int | None = None
    ) -> Listing:
        base, _, stem = prefix.rpartition("/")
        directory = self._path(base) if base else self.root
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        if not directory.is_dir():
            return Listing(())
        if delimiter is None:
            for dirpath, dirnames, filenames in os.walk(directory):
                dirnames.sort()
                rel = Path(dirpath).relative_to(self.root).as_posix()
                for fn in sorted(filenames):
                    key = fn if rel == "." else f"{rel}/{fn}"
                    if key.startswith(prefix) and not fn.startswith(".tmp-"):
                        if limit is not None and len(objects) >= limit:
                            return Listing(tuple(objects), truncated=True)
                        objects.append(self._info(key, Path(dirpath) / fn))
            return Listing(tuple(objects))
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if not entry.name.startswith(stem) or entry.name.startswith(".tmp-"):
                continue
            key = f"{base}/{entry.name}" if base else entry.name
            if entry.is_dir():
                prefixes.append(key + "/")
            else:
                objects.append(self._info(key, Path(entry.path)))
        return Listing(tuple(objects), tuple(prefixes))

    @asynccontextmanager
    async def get(
        self, key: str, *, start: int = 0, if_match: str | None = None
    ) -> AsyncIterator[ObjectStream]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError(f"no such object {key}") from None
        with handle:
            st = os.fstat(handle.fileno())
            etag = _etag(st)
            if if_match is not None and if_match != etag:
                raise ObjectChanged(f"{key} changed while it was being read")
            handle.seek(start)

            async def body() -> AsyncIterator[bytes]:
                while chunk := handle.read(CHUNK_SIZE):
                    yield chunk
                    await anyio.lowlevel.checkpoint()

            yield ObjectStream(key=key, etag=etag, total_size=st.st_size, start=start, body=body())

    async def head(self, key: str) -> tuple[ObjectInfo, Mapping[str, str]]:
        path = self._path(key)
        if not path.is_file():
            raise NotFoundError(f"no such object {key}")
        return self._info(key, path), {}

    async def put(
        self,
        key: str,
        body: BinaryIO,
        metadata: Mapping[str, str],
        *,
        if_absent: bool,
        content_md5: str | None = None,
        if_match: str | None = None,
        content_type: str | None = None,
    ) -> str:
        if if_absent and if_match:
            raise ValueError("a write is conditional on absence or on an ETag, not both")
        if key.endswith("/"):
            raise FolderKeyUnsupported(f"a directory cannot hold {key}: the key ends in '/'")
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if if_match is None:
            self._write(key, target, body, content_md5, exclusive=if_absent)
            return _etag(target.stat())
        with self._cas_lock():
            try:
                current = _etag(target.stat())
            except FileNotFoundError:
                current = None
            if current != if_match:
                raise WriteConflict(f"{key} changed since it was read")
            self._write(key, target, body, content_md5, exclusive=False)
            return _etag(target.stat())

    def _write(
        self, key: str, target: Path, body: BinaryIO, content_md5: str | None, *, exclusive: bool
    ) -> None:
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            # A repository's objects are the user's data: durable once put returns.
            with atomic_writer(target, fsync=True, exclusive=exclusive) as out:
                body.seek(0)
                while chunk := body.read(CHUNK_SIZE):
                    out.write(chunk)
                    md5.update(chunk)
                if content_md5 and base64.b64encode(md5.digest()).decode() != content_md5:
                    raise IntegrityError(
                        f"{key}: the bytes read for it differ from the ones that were checked: "
                        "the file changed while it was read; nothing was stored"
                    )
        except FileExistsError:
            raise VersionExistsError(f"{key} already exists") from None

    @contextmanager
    def _cas_lock(self) -> Iterator[None]:
        """The root's compare-and-swap lock, held exclusively (no lock where ``flock`` is not)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / CAS_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Unlink the file, then every package folder it leaves empty (as S3 keeps no folders).

        With ``if_match``, the ETag check and the unlink are made under the compare-and-swap
        lock, so no compare-and-swap write lands between them; a writer that takes no lock (a
        publish with ``--force``) still could, where S3 decides both in one request.
        """
        target = self._path(key)
        try:
            with self._cas_lock() if if_match is not None else nullcontext():
                if if_match is not None and _etag(target.stat()) != if_match:
                    raise ObjectChanged(f"{key} changed since it was listed")
                target.unlink()
        except FileNotFoundError:
            return
        parent = target.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    async def presign(self, key: str, expires_in: int) -> str:
        return self._path(key).resolve().as_uri()

    async def aclose(self) -> None:
        return None
