"""A ``Storage`` held in a dict, with fault hooks: the store of the fast unit tier.

The resolver, index and downloader only ever see a ``Storage``, so their logic (listing whole
prefixes, retries, resuming a broken body with ``If-Match``) can be tested in milliseconds here
instead of through a real S3 server. The semantics follow S3 as ``S3Storage`` presents it, and a
shared contract suite (``tests/lib/contract.py``) runs the same tests over this, the local
directory and a real S3 server to keep them honest:

- keys list in byte order, in pages of ``page_size`` (S3's 1,000), each page one request; a
  ``limit`` stops after the page that reaches it and marks the listing truncated;
- an ETag is the quoted MD5 of the body, as S3 gives for a single-part upload, so rewriting the
  same bytes keeps it and rewriting other bytes changes it;
- ``get(start=N, if_match=etag)`` resumes from byte N and raises ``ObjectChanged`` when the
  object is no longer the one that ETag names; an open stream keeps reading the bytes it opened;
- ``put(if_absent=True)`` refuses an existing key with ``VersionExistsError``, like a
  conditional PUT (``If-None-Match: *``), ``put(if_match=etag)`` anything but the object with
  that ETag with ``WriteConflict`` (``If-Match``), and a body that differs from its
  ``content_md5`` with ``IntegrityError``, like S3's ``BadDigest``;
- a key ending in ``/`` is an object as on AWS S3, or with ``folder_keys=False`` an empty
  folder as SeaweedFS keeps it: the put raises ``FolderKeyUnsupported``, and a GET of a folder
  that holds objects answers an empty ``application/x-directory``;
- user metadata keys come back lower-cased, as S3 returns them;
- ``presign`` gives a ``memory://`` URL that nothing but this store could read.

Fault hooks: ``fail`` makes the next N calls of a method (or all of them) raise an error,
``cut`` breaks the next N bodies off after K bytes (optionally changing the object at that
moment), ``hold`` keeps the next N GETs of a key waiting until all N have arrived (so N racing
writers certainly read the same state), and every request is counted (``calls``,
``requests``) and recorded (``history``).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO, Literal
from urllib.parse import quote

import anyio

from pipper.errors import IntegrityError, NotFoundError, PipperError, VersionExistsError
from pipper.storage.base import (
    CHUNK_SIZE,
    FolderKeyUnsupported,
    Listing,
    ObjectChanged,
    ObjectInfo,
    ObjectStream,
    StreamInterrupted,
    WriteConflict,
)

Method = Literal["list", "get", "head", "put", "delete", "presign"]
S3_PAGE_SIZE = 1000


@dataclass(frozen=True)
class StoredObject:
    """One object: its bytes, the ETag S3 would give them, and its user metadata."""

    data: bytes
    metadata: Mapping[str, str]
    last_modified: datetime
    content_type: str | None = None
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", f'"{hashlib.md5(self.data).hexdigest()}"')

    def info(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(self.data), self.etag, self.last_modified)


@dataclass(frozen=True)
class Call:
    """One request as the store received it (``key`` is the prefix for a listing page)."""

    method: Method
    key: str
    start: int = 0
    if_match: str | None = None


@dataclass
class _Failure:
    method: Method
    error: BaseException | Callable[[], BaseException]
    remaining: int | None  # None: every call from now on
    match: str | None

    def applies(self, method: Method, key: str) -> bool:
        if self.method != method or self.remaining == 0:
            return False
        return self.match is None or self.match == key


@dataclass
class _Cut:
    after: int
    remaining: int
    match: str | None
    then: Callable[[], object] | None


@dataclass
class _Hold:
    key: str
    count: int
    released: anyio.Event = field(default_factory=anyio.Event)
    arrived: int = 0


class MemoryStorage:
    """An in-memory ``Storage``; see the module docstring for its semantics and fault hooks."""

    def __init__(
        self,
        name: str = "memory",
        *,
        page_size: int = S3_PAGE_SIZE,
        chunk_size: int = CHUNK_SIZE,
        folder_keys: bool = True,
    ) -> None:
        if page_size < 1 or chunk_size < 1:
            raise ValueError("page_size and chunk_size must be at least 1")
        self.name = name
        self.page_size = page_size
        self.chunk_size = chunk_size
        self.folder_keys = folder_keys
        self.objects: dict[str, StoredObject] = {}
        self.calls: Counter[str] = Counter()
        self.history: list[Call] = []
        self.retries = 0  # this store never retries by itself; kept for the run statistics
        self.closed = False
        self._failures: list[_Failure] = []
        self._cuts: list[_Cut] = []
        self._holds: list[_Hold] = []

    # -- setting the scene (not counted as requests) ----------------------------------------

    def seed(
        self,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``key`` (replacing what is there) as another writer would."""
        stored = StoredObject(
            data,
            {k.lower(): v for k, v in (metadata or {}).items()},
            datetime.now(UTC),
            content_type,
        )
        self.objects[key] = stored
        return stored.info(key)

    def fail(
        self,
        method: Method,
        error: BaseException | Callable[[], BaseException],
        *,
        times: int | None = 1,
        key: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` (all of them with ``None``) raise ``error``.

        ``key`` limits the fault to one key (or, for ``list``, one prefix). A callable is called
        for a fresh exception each time. A failed call still counts as a request.
        """
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every call")
        self._failures.append(_Failure(method, error, times, key))

    def cut(
        self,
        after: int,
        *,
        times: int = 1,
        key: str | None = None,
        then: Callable[[], object] | None = None,
    ) -> None:
        """The next ``times`` bodies (of ``key``, or of any object) break off after ``after``
        bytes with ``StreamInterrupted``; ``then`` runs at that moment (to replace the object,
        say, before the reader resumes)."""
        if after < 0 or times < 1:
            raise ValueError("after must be >= 0 and times at least 1")
        self._cuts.append(_Cut(after, times, key, then))

    def hold(self, key: str, count: int) -> None:
        """The next ``count`` GETs of ``key`` wait until all of them have arrived, so all of
        them read the same state: a race between that many readers-then-writers made certain
        instead of left to the scheduler. Call it inside the event loop the store is used on."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._holds.append(_Hold(key, count))

    async def _read_held(self, key: str) -> StoredObject:
        """The object as it is now. A held GET reads it as it arrives and goes on only when
        every held GET has arrived: none of them can have written anything in between."""
        hold = next((h for h in self._holds if h.key == key and h.arrived < h.count), None)
        if hold is None:
            return self._stored(key)
        hold.arrived += 1
        if hold.arrived == hold.count:
            hold.released.set()
        try:
            return self._stored(key)
        finally:
            await hold.released.wait()

    @property
    def requests(self) -> int:
        """Every request received, failed ones included (a listing counts once per page)."""
        return sum(self.calls.values())

    def reset_counts(self) -> None:
        self.calls.clear()
        self.history.clear()

    # -- the Storage protocol ---------------------------------------------------------------

    def _receive(self, call: Call) -> None:
        """Count and record one request, then raise the fault planned for it, if any."""
        self.calls[call.method] += 1
        self.history.append(call)
        for failure in self._failures:
            if failure.applies(call.method, call.key):
                if failure.remaining is not None:
                    failure.remaining -= 1
                error = failure.error
                raise error if isinstance(error, BaseException) else error()

    def _take_cut(self, key: str) -> _Cut | None:
        for cut in self._cuts:
            if cut.remaining > 0 and (cut.match is None or cut.match == key):
                cut.remaining -= 1
                return cut
        return None

    def _stored(self, key: str) -> StoredObject:
        try:
            return self.objects[key]
        except KeyError:
            if key.endswith("/") and not self.folder_keys and any(self._below(key)):
                return StoredObject(b"", {}, datetime.now(UTC), "application/x-directory")
            raise NotFoundError(f"no such object {key} in {self.name}") from None

    def _below(self, folder: str) -> Iterator[str]:
        return (k for k in self.objects if k.startswith(folder) and k != folder)

    async def list(
        self, prefix: str, *, delimiter: str | None = None, limit: int | None = None
    ) -> Listing:
        entries: dict[str, ObjectInfo | None] = {}  # a common prefix maps to None
        for key in sorted(k for k in self.objects if k.startswith(prefix)):
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                entries.setdefault(prefix + rest[: rest.index(delimiter) + len(delimiter)], None)
            else:
                entries[key] = self.objects[key].info(key)
        names = list(entries)
        page = min(limit or self.page_size, self.page_size)
        taken: list[str] = []
        truncated = False
        while True:
            self._receive(Call("list", prefix))
            await anyio.lowlevel.checkpoint()
            taken += names[len(taken) : len(taken) + page]
            if len(taken) == len(names):
                break
            if limit is not None and len(taken) >= limit:
                truncated = True
                break
        objects = tuple(info for name in taken if (info := entries[name]) is not None)
        prefixes = tuple(name for name in taken if entries[name] is None)
        return Listing(objects, prefixes, truncated=truncated)

    @asynccontextmanager
    async def get(
        self, key: str, *, start: int = 0, if_match: str | None = None
    ) -> AsyncIterator[ObjectStream]:
        self._receive(Call("get", key, start, if_match))
        await anyio.lowlevel.checkpoint()
        stored = await self._read_held(key)
        if key.endswith("/") and not self.folder_keys:  # a folder, as SeaweedFS answers it
            stored = StoredObject(b"", {}, stored.last_modified, "application/x-directory")
        if if_match is not None and if_match != stored.etag:
            raise ObjectChanged(f"{key} changed while it was being downloaded")
        data = stored.data
        if not 0 <= start <= len(data):
            raise PipperError(f"range start {start} is past the end of {key} ({len(data)} bytes)")
        cut = self._take_cut(key)
        end = len(data) if cut is None else min(len(data), start + cut.after)

        async def body() -> AsyncIterator[bytes]:
            position = start
            while position < end:
                chunk = data[position : min(end, position + self.chunk_size)]
                position += len(chunk)
                yield chunk
                await anyio.lowlevel.checkpoint()
            if cut is not None and end < len(data):
                if cut.then is not None:
                    cut.then()
                raise StreamInterrupted(f"the body of {key} broke off after {cut.after} bytes")

        yield ObjectStream(
            key=key,
            etag=stored.etag,
            total_size=len(data),
            start=start,
            metadata=dict(stored.metadata),
            body=body(),
            content_type=stored.content_type,
        )

    async def head(self, key: str) -> tuple[ObjectInfo, Mapping[str, str]]:
        self._receive(Call("head", key))
        await anyio.lowlevel.checkpoint()
        stored = self._stored(key)
        return stored.info(key), dict(stored.metadata)

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
        self._receive(Call("put", key, if_match=if_match))
        body.seek(0)
        data = body.read()
        digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        if content_md5 and content_md5 != digest:
            raise IntegrityError(f"{key}: the body differs from its Content-MD5 (BadDigest)")
        if if_absent and key in self.objects:
            raise VersionExistsError(f"{key} already exists in {self.name}")
        current = self.objects.get(key)
        if if_match is not None and (current is None or current.etag != if_match):
            raise WriteConflict(f"{key} changed since it was read")
        if key.endswith("/") and not self.folder_keys:
            self.seed(key, b"")
            raise FolderKeyUnsupported(f"{self.name} keeps {key} as an empty folder")
        return self.seed(key, data, metadata, content_type).etag

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """As S3: a key already gone is no error; ``if_match`` refuses a changed object."""
        self._receive(Call("delete", key))
        stored = self.objects.get(key)
        if stored is None:
            return
        if if_match is not None and stored.info(key).etag != if_match:
            raise ObjectChanged(f"{key} changed since it was listed")
        del self.objects[key]

    async def presign(self, key: str, expires_in: int) -> str:
        self._receive(Call("presign", key))
        return f"memory://{self.name}/{quote(key)}?expires={expires_in}"

    async def aclose(self) -> None:
        self.closed = True

    async def __aenter__(self) -> MemoryStorage:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
