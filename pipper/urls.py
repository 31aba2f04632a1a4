"""Bundles fetched by URL: presigned S3 GETs from ``pipper authorize``, or any http(s) URL.

A CI job handed such URLs needs no credentials at all, so this path never touches botocore: one
aiohttp session, one plain GET per URL, the body streamed to a temporary file in the cache and
hashed as it arrives. The object's ``x-amz-meta-sha256`` header, when present, is both the check
on the bytes and the cache key: a bundle the cache already holds is known from the headers and its
body is never read. Without that header the (origin, path, ETag) index of the cache plays the same
part. A body that breaks off is resumed with a ranged GET tied to the ETag, as in ``downloader``
(a presigned URL signs only the host, so the extra headers are allowed).

The URL's query string is its signature: messages show URLs only through ``redact_url``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio

from pipper.bundle import read_bundle
from pipper.cache import Cache
from pipper.downloader import Fetched
from pipper.errors import (
    AccessDeniedError,
    BundleError,
    IntegrityError,
    NetworkError,
    NotFoundError,
    PipperError,
    UsageError,
)
from pipper.fsutil import temp_file
from pipper.index import Candidate
from pipper.specs import PackageId, redact_url
from pipper.storage.base import CHUNK_SIZE
from pipper.versions import BUNDLE_SUFFIX, parse_safe_version

log = logging.getLogger(__name__)

SHA256_HEADER = "x-amz-meta-sha256"
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class UrlTarget:
    """What a bundle URL promises, and how the cache remembers it without the signature."""

    url: str
    name: str
    version: str
    origin: str
    path: str

    @property
    def shown(self) -> str:
        return f"{self.origin}{self.path}"

    @classmethod
    def of(cls, package: PackageId) -> UrlTarget:
        if package.url is None:
            raise UsageError(f"{package} is not a URL")
        parts = urlsplit(package.url)
        path = unquote(parts.path)
        folder, _, filename = path.rpartition("/")
        name = folder.rpartition("/")[2]
        version = (
            parse_safe_version(filename[: -len(BUNDLE_SUFFIX)])
            if filename.endswith(BUNDLE_SUFFIX)
            else None
        )
        if not name or version is None:
            raise UsageError(
                f"package URL {redact_url(package.url)} does not end in "
                f"<name>/<safe_version>{BUNDLE_SUFFIX}"
            )
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        origin = f"{parts.scheme.lower()}://{host}" + (f":{parts.port}" if parts.port else "")
        return cls(url=package.url, name=name, version=version, origin=origin, path=path)


def _ssl_context() -> ssl.SSLContext:
    """The default trust store, or ``AWS_CA_BUNDLE`` as botocore would use for the same bucket."""
    bundle = os.environ.get("AWS_CA_BUNDLE", "").strip()
    if bundle and os.path.isfile(bundle):
        return ssl.create_default_context(cafile=bundle)
    return ssl.create_default_context()


class _Retry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Changed(_Retry):
    """The ETag a resumed GET was tied to is gone: the object was replaced mid-download."""


class UrlFetcher:
    """Fetches bundle URLs into one cache; enter it once per run with ``async with``."""

    def __init__(
        self,
        cache: Cache,
        *,
        concurrency: int = 32,
        attempts: int = 6,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.cache = cache
        self.attempts = attempts
        self.on_bytes = on_bytes
        self.requests = 0
        self.retries = 0
        self.bytes = 0
        self._concurrency = concurrency
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._timeouts = (connect_timeout, read_timeout)
        self._session: Any = None

    async def __aenter__(self) -> UrlFetcher:
        import aiohttp

        connect, read = self._timeouts
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency, ssl=_ssl_context()),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
            auto_decompress=False,
            trust_env=True,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, package: PackageId) -> Fetched:
        """The bundle behind ``package.url``, verified and committed to the cache."""
        import aiohttp
        from yarl import URL

        target = UrlTarget.of(package)
        assert self._session is not None, "enter the UrlFetcher first"
        url = URL(target.url, encoded=True)
        with temp_file(self.cache.tmp, suffix=".part") as (tmp, handle):
            digest = hashlib.sha256()
            offset = 0
            etag: str | None = None
            published: str | None = None
            failures = 0
            while True:
                headers = {"Range": f"bytes={offset}-", "If-Match": etag} if offset and etag else {}
                try:
                    async with self._limiter:
                        self.requests += 1
                        async with self._session.get(url, headers=headers) as response:
                            status = response.status
                            if status == 412 and headers:
                                raise _Changed("the object changed during the download")
                            if status >= 400:
                                raise await self._http_error(target, response)
                            if status != 206 and offset:
                                handle.seek(0)
                                handle.truncate()
                                digest, offset = hashlib.sha256(), 0
                            if etag is None:
                                etag = response.headers.get("ETag", "")
                                published = _sha256_header(response.headers.get(SHA256_HEADER))
                                hit = await self._from_cache(target, published, etag)
                                if hit is not None:
                                    return hit
                            async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                                handle.write(chunk)
                                digest.update(chunk)
                                offset += len(chunk)
                                self.bytes += len(chunk)
                                if self.on_bytes is not None:
                                    self.on_bytes(len(chunk))
                    break
                except (_Retry, aiohttp.ClientError, TimeoutError) as exc:
                    reason = exc.reason if isinstance(exc, _Retry) else type(exc).__name__
                    if isinstance(exc, _Changed):
                        log.warning("%s changed during the download; starting again", target.shown)
                        handle.seek(0)
                        handle.truncate()
                        digest, offset, etag = hashlib.sha256(), 0, None
                    failures += 1
                    self.retries += 1
                    if failures >= self.attempts:
                        raise NetworkError(
                            f"giving up on {target.shown} after {failures} failed attempts "
                            f"({reason})"
                        ) from None
                    await anyio.sleep(min(2.0, 0.05 * 2**failures) * random.uniform(0.5, 1.0))
            handle.flush()
            hexdigest = digest.hexdigest()
            if published and published != hexdigest:
                raise IntegrityError(
                    f"{target.shown}: sha256 {hexdigest[:12]}... does not match the published "
                    f"{published[:12]}...; the download was discarded"
                )
            try:
                meta = await anyio.to_thread.run_sync(
                    lambda: read_bundle(tmp, expect_name=target.name, expect_version=target.version)
                )
            except BundleError as exc:
                raise BundleError(f"{target.shown}: {exc}") from None
            path = self.cache.commit(tmp, hexdigest)
        if etag:
            self.cache.remember(target.origin, target.path, etag, hexdigest, offset)
        return Fetched(_candidate(target, offset, etag), hexdigest, path, "network", meta)

    async def _from_cache(
        self, target: UrlTarget, published: str | None, etag: str
    ) -> Fetched | None:
        digest = published or (
            self.cache.lookup(target.origin, target.path, etag) if etag else None
        )
        if digest is None:
            return None
        path = await anyio.to_thread.run_sync(self.cache.verified, digest)
        if path is None:
            return None
        try:
            meta = await anyio.to_thread.run_sync(
                lambda: read_bundle(path, expect_name=target.name, expect_version=target.version)
            )
        except BundleError as exc:
            raise BundleError(f"{target.shown}: {exc}") from None
        self.cache.touch(path)
        if etag and published:
            self.cache.remember(target.origin, target.path, etag, digest, path.stat().st_size)
        return Fetched(_candidate(target, path.stat().st_size, etag), digest, path, "cache", meta)

    @staticmethod
    async def _http_error(target: UrlTarget, response: Any) -> Exception:
        status = int(response.status)
        if status in _RETRY_STATUSES:
            return _Retry(f"HTTP {status}")
        try:
            text = (await response.content.read(4096)).decode("utf-8", "replace")
        except Exception:
            text = ""
        what = f"{target.name} {target.version} ({target.shown})"
        if status == 403 and "expired" in text.lower():
            return AccessDeniedError(
                f"the URL of {what} has expired: ask for new URLs ('pipper authorize')"
            )
        if status in (401, 403):
            return AccessDeniedError(
                f"access denied to {what} (HTTP {status}): the URL is not (or no longer) valid"
            )
        if status == 404:
            return NotFoundError(f"no bundle at the URL of {what} (HTTP 404)")
        code = re.search(r"<Code>([^<]{1,64})</Code>", text)
        detail = f" {code.group(1)}" if code else ""
        return PipperError(f"fetching {what} failed: HTTP {status}{detail}")


def _sha256_header(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    return value if _SHA256.fullmatch(value) else None


def _candidate(target: UrlTarget, size: int, etag: str | None) -> Candidate:
    return Candidate(
        name=target.name,
        version=target.version,
        key=target.shown,
        size=size,
        etag=etag or "",
    )
