"""A directory laid out exactly like a bucket: ``<root>/<prefix>/<name>/<safe_version>.pipper``.

It serves offline mirrors, the quickstart (no AWS account) and tests. Writes are atomic and a
conditional write uses ``os.link``, which fails when the target exists, so two publishers of the
same version cannot both win here either.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import anyio

from pipper.errors import IntegrityError, NotFoundError, VersionExistsError
from pipper.fsutil import atomic_writer
from pipper.storage.base import CHUNK_SIZE, Listing, ObjectChanged, ObjectInfo, ObjectStream


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
        except FileNotFoundError:
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
    ) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            # A repository's objects are the user's data: durable once put returns.
            with atomic_writer(target, fsync=True, exclusive=if_absent) as out:
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

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Unlink the file, then every package folder it leaves empty (as S3 keeps no folders).

        The ETag check and the unlink are two steps: a publisher replacing the file between
        them could lose its write here, where S3 decides both in one request.
        """
        target = self._path(key)
        try:
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
