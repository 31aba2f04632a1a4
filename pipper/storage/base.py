"""The one small interface every store implements.

The resolver, downloader and publisher only ever talk to a ``Storage``: listing a prefix,
streaming one object, writing one object only if it is absent, deleting one object only while it
is the one that was listed (yank markers, ``delete``, ``prune-releases``), presigning a GET. That
keeps the
S3 details (clients, retries, error codes) in ``s3.py`` and lets the same core run against a
local directory for offline mirrors, the quickstart and tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

from pipper.errors import NetworkError

CHUNK_SIZE = 1 << 20


class StreamInterrupted(NetworkError):
    """A body broke off mid-stream; the caller may resume it with a ranged request."""


class ObjectChanged(NetworkError):
    """A ranged resume found the object replaced since the first byte was read."""


class WriteConflict(ObjectChanged):
    """A write conditional on an ETag (``put(if_match=...)``) found another object there, or
    none: someone else wrote it first. The caller reads it again and retries (compare-and-swap).
    """


class WrongEndpoint(NetworkError):
    """The endpoint answered, but not as the store would: a redirect, an HTML page where a
    listing belongs, a write it reports done that it does not hold.

    Never retried (the same question gets the same wrong answer) and never followed: a redirect
    would carry the request's credentials, or a URL's signature, to a host the user never named.
    """


class FolderKeyUnsupported(WrongEndpoint):
    """The store cannot hold an object whose key ends in ``/`` (SeaweedFS keeps such a key as an
    empty folder, a local directory cannot hold it at all); AWS S3 and moto store it as any other.
    """


@dataclass(frozen=True)
class ObjectInfo:
    """One entry of a listing: enough to pick a version and to key the cache."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None = None


@dataclass
class ObjectStream:
    """An open GET: its headers are known, its body is read chunk by chunk."""

    key: str
    etag: str
    total_size: int
    start: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    body: AsyncIterator[bytes] | None = None
    content_type: str | None = None

    def chunks(self) -> AsyncIterator[bytes]:
        assert self.body is not None
        return self.body


@dataclass(frozen=True)
class Listing:
    """Objects directly under a prefix, plus the "folders" below it when a delimiter is used."""

    objects: tuple[ObjectInfo, ...]
    prefixes: tuple[str, ...] = ()
    truncated: bool = False  # ``limit`` stopped the listing before its end


class Storage(Protocol):
    """What pipper needs from a store; every method may raise a ``PipperError``.

    ``requests`` counts the requests made and ``retries`` the attempts beyond the first of each,
    for the figures a run reports (``--json``); a store without a network counts zero retries.
    """

    @property
    def requests(self) -> int: ...

    @property
    def retries(self) -> int: ...

    async def list(
        self, prefix: str, *, delimiter: str | None = None, limit: int | None = None
    ) -> Listing: ...

    def get(
        self, key: str, *, start: int = 0, if_match: str | None = None
    ) -> AbstractAsyncContextManager[ObjectStream]: ...

    async def head(self, key: str) -> tuple[ObjectInfo, Mapping[str, str]]: ...

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
        """Write ``body`` (an open binary file, read from its start) under ``key``; return the
        ETag of the object written.

        The caller validates and hashes the same open file it hands here, so what is stored is
        what was checked even if the path is replaced meanwhile. ``content_md5`` (base64, as
        S3's ``Content-MD5``) is the MD5 of the bytes the caller checked: a store refuses a body
        that differs with ``IntegrityError`` (the file was rewritten in place) and stores nothing.

        ``if_absent`` writes only where no object is (else ``VersionExistsError``); ``if_match``
        (an ETag from a GET, HEAD or listing) replaces only the object that still has that ETag,
        else raises ``WriteConflict`` and stores nothing: a compare-and-swap, so two writers
        updating one object never lose each other's change. ``content_type`` is what a reader
        gets as ``Content-Type`` where the store keeps one (S3).
        """
        ...

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Remove ``key``; a key that is already gone is not an error.

        With ``if_match`` (an ETag from a listing), remove it only while it still has that ETag,
        else raise ``ObjectChanged``, so a version published again meanwhile is never removed
        in its place. A store may report a key gone meanwhile either way.
        """
        ...

    async def presign(self, key: str, expires_in: int) -> str: ...

    async def aclose(self) -> None: ...
