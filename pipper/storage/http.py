"""A read-only ``Storage`` whose objects are bundle URLs: presigned S3 GETs or any http(s) URL.

A CI job handed such URLs needs no credentials at all, so this store never touches botocore: it
reads with one aiohttp session, and the ordinary ``Downloader`` does the rest (streaming,
hashing, resuming with ``Range`` and ``If-Match``, which a presigned URL allows since it signs
only the host; checking the ``x-amz-meta-sha256`` header; committing to the cache).

The URL's query string is its signature: keys, the cache and every message use the URL without
it (``redact_url``); only this store holds the full URL. For the same reason a redirect is never
followed: it is an error that names the host it pointed to. Every GET has the deadlines of
``deadlines``: the request timeout to open it, plus the body's size at the minimum rate.
"""

from __future__ import annotations

import functools
import os
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, BinaryIO

import anyio

from pipper.errors import AccessDeniedError, NotFoundError, PipperError, UsageError
from pipper.keys import UrlTarget, redact_url
from pipper.models import Candidate
from pipper.specs import PackageId
from pipper.storage.base import (
    CHUNK_SIZE,
    Listing,
    ObjectChanged,
    ObjectInfo,
    ObjectStream,
    StreamInterrupted,
    WrongEndpoint,
)
from pipper.storage.deadlines import body_seconds, by_deadline, chunks_by

__all__ = ["HttpStorage"]

METADATA_PREFIX = "x-amz-meta-"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _ssl_context(bundle: str | None) -> ssl.SSLContext:
    """The default trust store, or ``AWS_CA_BUNDLE`` as botocore would use for the same bucket."""
    if bundle and os.path.isfile(bundle):
        return ssl.create_default_context(cafile=bundle)
    return ssl.create_default_context()


class HttpStorage:
    """A read-only ``Storage`` whose keys are URLs without their query; enter it per run."""

    def __init__(
        self,
        *,
        concurrency: int = 32,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        request_timeout: float = 120.0,
        ca_bundle: str | None = None,
    ) -> None:
        self.requests = 0
        self._request_timeout = request_timeout
        self.retries = 0
        self._ca_bundle = ca_bundle
        self._concurrency = concurrency
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._timeouts = (connect_timeout, read_timeout)
        self._session: Any = None
        self._urls: dict[str, str] = {}

    async def __aenter__(self) -> HttpStorage:
        import aiohttp

        connect, read = self._timeouts
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._concurrency, ssl=_ssl_context(self._ca_bundle)
            ),
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
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def candidate(self, package: PackageId) -> Candidate:
        """The candidate a URL id names, keyed by the URL without its signature."""
        if package.url is None:
            raise UsageError(f"{package} is not a URL")
        target = UrlTarget.of(package.url)
        self._urls[target.shown] = target.url
        return Candidate(
            name=target.name, version=target.version, key=target.shown, size=0, etag=""
        )

    @asynccontextmanager
    async def get(
        self, key: str, *, start: int = 0, if_match: str | None = None
    ) -> AsyncIterator[ObjectStream]:
        import aiohttp
        from yarl import URL

        assert self._session is not None, "enter the HttpStorage first"
        headers = {"Range": f"bytes={start}-", "If-Match": if_match} if start and if_match else {}
        errors = (aiohttp.ClientError, TimeoutError)
        async with self._limiter:
            self.requests += 1
            opened = anyio.current_time() + self._request_timeout
            try:
                response = await by_deadline(
                    opened,
                    lambda: self._session.get(
                        URL(self._urls[key], encoded=True),
                        headers=headers,
                        allow_redirects=False,
                    ),
                )
            except errors as exc:
                raise StreamInterrupted(f"{key}: {type(exc).__name__}") from None
            if response is None:
                raise StreamInterrupted(f"{key}: no answer within {self._request_timeout:g} s")
            async with response:
                if response.status == 412 and headers:
                    raise ObjectChanged(f"{key} changed while it was being downloaded")
                if 300 <= response.status < 400:
                    raise _redirected(key, response)
                if response.status >= 400:
                    raise await _http_error(key, response)
                skip = start if response.status != 206 else 0  # the server ignored the Range
                length = int(response.headers.get("Content-Length", 0))
                deadline = anyio.current_time() + body_seconds(self._request_timeout, length)

                async def body() -> AsyncIterator[bytes]:
                    left = skip
                    read = functools.partial(response.content.read, CHUNK_SIZE)
                    async for chunk in chunks_by(deadline, key, read, errors):
                        if left:
                            cut, left = min(left, len(chunk)), left - min(left, len(chunk))
                            chunk = chunk[cut:]
                        if chunk:
                            yield chunk

                yield ObjectStream(
                    key=key,
                    etag=response.headers.get("ETag", ""),
                    total_size=length - skip + start,
                    start=start,
                    metadata={
                        name[len(METADATA_PREFIX) :]: value
                        for name, value in response.headers.items()
                        if name.lower().startswith(METADATA_PREFIX)
                    },
                    body=body(),
                )

    async def list(
        self, prefix: str, *, delimiter: str | None = None, limit: int | None = None
    ) -> Listing:
        raise UsageError("bundle URLs cannot be listed")

    async def head(self, key: str) -> tuple[ObjectInfo, Mapping[str, str]]:
        raise UsageError("bundle URLs are only read whole")

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
        raise UsageError("bundle URLs are read-only")

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        raise UsageError("bundle URLs are read-only")

    async def presign(self, key: str, expires_in: int) -> str:
        raise UsageError("bundle URLs are already presigned")


def _redirected(key: str, response: Any) -> WrongEndpoint:
    """A redirect, refused: following it would hand the URL's signature to another host."""
    location = redact_url(response.headers.get("Location", ""))
    to = f" to {location}" if location else ""
    return WrongEndpoint(
        f"fetching {key} was redirected (HTTP {response.status}{to}), and pipper never follows "
        "a redirect of a bundle URL: ask for the bundle's own URL"
    )


async def _http_error(key: str, response: Any) -> Exception:
    status = int(response.status)
    if status in _RETRY_STATUSES:
        return StreamInterrupted(f"{key}: HTTP {status}")
    try:
        text = (await response.content.read(4096)).decode("utf-8", "replace")
    except Exception:
        text = ""
    if status == 403 and "expired" in text.lower():
        return AccessDeniedError(
            f"the URL of {key} has expired: ask for new URLs ('pipper authorize')"
        )
    if status in (401, 403):
        return AccessDeniedError(
            f"access denied to {key} (HTTP {status}): the URL is not (or no longer) valid"
        )
    if status == 404:
        return NotFoundError(f"no bundle at {key} (HTTP 404)")
    code = re.search(r"<Code>([^<]{1,64})</Code>", text)
    detail = f" {code.group(1)}" if code else ""
    return PipperError(f"fetching {key} failed: HTTP {status}{detail}")
