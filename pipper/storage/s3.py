"""S3 (and every S3-compatible store) through one shared aiobotocore client.

One client per run, one ``CapacityLimiter`` over every request (listings, heads, gets, puts),
and a connection pool at least as large as the limiter so the pool never silently caps the
concurrency. botocore's ``standard`` retry mode covers 5xx, ``SlowDown``, broken connections and
timeouts before a body starts; a body that breaks off later surfaces as ``StreamInterrupted`` for
the downloader to resume. Every botocore error is translated here into a ``PipperError`` with a
one-line message that never contains a credential.

Retries come in rounds. botocore's backoff doubles with every attempt up to 20 s, so many
attempts in one botocore call would make a store that never recovers cost minutes; a round is
therefore short (``ATTEMPTS_PER_ROUND``), and a read that still fails (listing, HEAD, opening a
GET: all idempotent) gets up to ``ROUNDS`` rounds, each starting botocore's backoff over: a run
with one request in five throttled finishes, a store that fails every one is given up on within
seconds. A write gets another round only when the store answered with a server error (it stored
nothing then): after a broken connection the first attempt may have landed, and repeating a
conditional PUT would report the version as already published.

The read timeout (``PIPPER_READ_TIMEOUT``, seconds, default 60) bounds how long one read from a
socket may wait: a response that stalls longer is abandoned and retried (before its body by
botocore, during its body by a ranged resume), so a stalled connection costs that long rather
than hanging the run. The request timeout (``PIPPER_REQUEST_TIMEOUT``) bounds a whole request
across its retries, and a body gets that plus its size at a minimum rate (see ``deadlines``), so
a server that drips or never answers cannot hold a run either; the first retry for want of an
answer is said on stderr. Redirects are never followed (``s3client``): a redirect is an error.

``PIPPER_RETRY_BACKOFF`` (seconds, default 0.25) is the first pause between rounds; it doubles
each round up to eight times itself and is jittered down to half (tests set it near zero).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

import anyio

from pipper.errors import NetworkError, NotFoundError, PipperError, VersionExistsError
from pipper.storage.base import (
    CHUNK_SIZE,
    Listing,
    ObjectChanged,
    ObjectInfo,
    ObjectStream,
    StreamInterrupted,
    WriteConflict,
    WrongEndpoint,
)
from pipper.storage.deadlines import body_seconds, chunks_by
from pipper.storage.s3client import ClientSettings, open_client
from pipper.storage.s3errors import (
    S3Place,
    content_type_of,
    pause_between_rounds,
    retryable,
    stream_errors,
    translate,
    wrong_write,
)
from pipper.storage.s3lean import LeanS3

if TYPE_CHECKING:
    from pathlib import Path

    from types_aiobotocore_s3 import S3Client

    from pipper.credentials import Credentials

log = logging.getLogger(__name__)

DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_REQUEST_TIMEOUT = 120.0
MAX_READ_TIMEOUT = 3600.0
ATTEMPTS_PER_ROUND = 3
ROUNDS = 4


class S3Storage:
    """A ``Storage`` over one bucket; enter it once per run with ``async with``."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        where: str | None = None,
        credentials: Credentials | None = None,
        concurrency: int = 32,
        max_attempts: int = ATTEMPTS_PER_ROUND,
        rounds: int = ROUNDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        connect_timeout: float = 10.0,
        retry_backoff: float = 0.25,
        lean: bool = True,
        data_cache: Path | None = None,
    ) -> None:
        """``where`` names the repository in messages (``s3://bucket/prefix at ENDPOINT``);
        ``retry_backoff`` is the first pause between rounds (``PIPPER_RETRY_BACKOFF``);
        ``request_timeout`` the deadline of a request across its retries; ``data_cache`` where
        botocore's parsed data files are kept (``botodata``)."""
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.where = where or f"s3://{bucket}"
        self._credentials = credentials
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._rounds = rounds
        self._read_timeout = read_timeout
        self._request_timeout = request_timeout
        self._warned_slow = False
        self._backoff = retry_backoff
        self._connect_timeout = connect_timeout
        self._data_cache = data_cache
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None
        self._lean = LeanS3(lambda: self.client, bucket, self._count_attempt, on=lean)
        self._place = S3Place(bucket, self.where, region)
        self.requests = 0
        self.attempts = 0

    async def __aenter__(self) -> S3Storage:
        try:
            client = await open_client(
                self._stack,
                ClientSettings(
                    credentials=self._credentials,
                    endpoint_url=self.endpoint_url,
                    region=self.region,
                    pool=max(self._concurrency + 4, 10),
                    attempts=self._max_attempts,
                    read_timeout=self._read_timeout,
                    connect_timeout=self._connect_timeout,
                    data_cache=self._data_cache,
                ),
            )
        except Exception as exc:
            await self.aclose()
            raise self._translate(exc, "connect") from None
        events = client.meta.events
        events.register("before-send.s3", self._count_attempt)
        events.register("needs-retry.s3", self._note_retry)
        self._client = client
        self._place = S3Place(self.bucket, self.where, client.meta.region_name)
        return self

    @property
    def client(self) -> S3Client:
        """The open client; using the store before ``async with`` is a programming error."""
        assert self._client is not None, "enter the S3Storage first"
        return self._client

    def _count_attempt(self, **_: Any) -> None:
        self.attempts += 1

    def _note_retry(self, caught_exception: BaseException | None = None, **_: Any) -> None:
        """Say once on stderr that the store is not answering, when botocore retries for it."""
        from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

        timed_out = isinstance(caught_exception, ReadTimeoutError | ConnectTimeoutError)
        if self._warned_slow or not timed_out:
            return
        self._warned_slow = True
        log.warning(
            "no answer from %s within %g s; retrying (a request is given up on after %g s, "
            "PIPPER_REQUEST_TIMEOUT)",
            *(self.where, self._read_timeout, self._request_timeout),
        )

    @property
    def retries(self) -> int:
        """HTTP attempts beyond the first of each request (botocore's retries and ours)."""
        return max(0, self.attempts - self.requests)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._stack.aclose()

    def _translate(self, exc: BaseException, what: str) -> PipperError:
        return translate(exc, what, self._place)

    async def _call(self, what: str, call: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        """A read (listing, HEAD) of this bucket with every round it may need."""
        async with self._limiter:
            return await self._rounds_of(what, lambda: call(Bucket=self.bucket, **kwargs))

    async def _rounds_of(
        self,
        what: str,
        attempt: Callable[[], Awaitable[Any]],
        *,
        write: bool = False,
        seconds: float | None = None,
    ) -> Any:
        """One request, in rounds of botocore attempts, all within its deadline (``seconds``,
        by default the request timeout); the caller holds the limiter."""
        self.requests += 1
        seconds = self._request_timeout if seconds is None else seconds
        with anyio.move_on_after(seconds):
            for round_ in range(1, self._rounds + 1):
                try:
                    return await attempt()
                except Exception as exc:
                    error = self._translate(exc, what)
                    again = retryable(error, exc, write=write)
                if round_ == self._rounds or not again:
                    raise error
                log.debug("%s: round %d of %d failed; trying again", what, round_, self._rounds)
                await pause_between_rounds(round_, self._backoff)
        asked = f"the upload of {what}" if write else what
        outcome = "; it may or may not have been stored" if write else ""
        raise NetworkError(
            f"{self.where} gave no complete answer to {asked} within {seconds:.3g} s "
            f"(PIPPER_REQUEST_TIMEOUT){outcome}"
        )

    async def list(
        self, prefix: str, *, delimiter: str | None = None, limit: int | None = None
    ) -> Listing:
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix, "MaxKeys": min(limit or 1000, 1000)}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            page = await self._call(f"listing {prefix}", self._lean.list_objects_v2, **kwargs)
            if "IsTruncated" not in page and "Name" not in page:
                raise WrongEndpoint(
                    f"{self.where} answered the listing of {prefix or 'the bucket'} with "
                    f"something that is not an S3 listing ({content_type_of(page)}): "
                    "check --endpoint-url (a captive portal or a web server answers like this)"
                )
            entries = [*page.get("Contents", ()), *page.get("CommonPrefixes", ())]
            if not all(isinstance(e.get("Key", e.get("Prefix")), str) for e in entries):
                raise WrongEndpoint(
                    f"{self.where} answered the listing of {prefix} with an entry that has no "
                    "key: it does not answer like S3 (check --endpoint-url)"
                )
            for item in page.get("Contents", ()):
                objects.append(
                    ObjectInfo(
                        key=item["Key"],
                        size=int(item.get("Size", 0)),
                        etag=str(item.get("ETag", "")),
                        last_modified=item.get("LastModified"),
                    )
                )
            prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", ()))
            if not page.get("IsTruncated"):
                break
            if limit is not None and len(objects) + len(prefixes) >= limit:
                return Listing(tuple(objects), tuple(prefixes), truncated=True)
            token = page.get("NextContinuationToken")
            if not token:
                break
        return Listing(tuple(objects), tuple(prefixes))

    @asynccontextmanager
    async def get(
        self, key: str, *, start: int = 0, if_match: str | None = None
    ) -> AsyncIterator[ObjectStream]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start:
            kwargs["Range"] = f"bytes={start}-"
        if if_match:
            kwargs["IfMatch"] = if_match
        async with self._limiter:
            try:
                response = await self._rounds_of(key, lambda: self._lean.get_object(**kwargs))
            except VersionExistsError:
                if if_match:
                    raise ObjectChanged(f"{key} changed while it was being downloaded") from None
                raise
            length = int(response.get("ContentLength", 0))
            total = length + start
            content_range = response.get("ContentRange")
            if content_range and "/" in content_range:
                with contextlib.suppress(ValueError):
                    total = int(content_range.rsplit("/", 1)[1])
            errors = stream_errors()
            raw = response["Body"]
            deadline = anyio.current_time() + body_seconds(self._request_timeout, length)
            async with raw:

                async def body() -> AsyncIterator[bytes]:
                    received = 0
                    read = functools.partial(raw.read, CHUNK_SIZE)
                    async for chunk in chunks_by(deadline, key, read, errors):
                        received += len(chunk)
                        yield chunk
                    if received < length:
                        raise StreamInterrupted(f"the body of {key} ended early")

                yield ObjectStream(
                    key=key,
                    etag=str(response.get("ETag", "")),
                    total_size=total,
                    start=start,
                    metadata=dict(response.get("Metadata", {})),
                    body=body(),
                    content_type=response.get("ContentType"),
                )

    async def head(self, key: str) -> tuple[ObjectInfo, Mapping[str, str]]:
        response = await self._call(key, self.client.head_object, Key=key)
        info = ObjectInfo(
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=str(response.get("ETag", "")),
            last_modified=response.get("LastModified"),
        )
        return info, dict(response.get("Metadata", {}))

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
        kwargs: dict[str, Any] = {
            "Key": key,
            # Bundles are zip archives (as the original uploads them); yank markers are JSON.
            "ContentType": content_type
            or ("application/zip" if key.endswith(".pipper") else "application/json"),
            "Metadata": dict(metadata),
        }
        if if_absent:
            kwargs["IfNoneMatch"] = "*"
        if if_match:
            kwargs["IfMatch"] = if_match
        if content_md5:
            kwargs["ContentMD5"] = content_md5
        size = body.seek(0, os.SEEK_END)

        async def attempt() -> Any:
            body.seek(0)  # per round: never where the last round left it
            return await self.client.put_object(Bucket=self.bucket, Body=body, **kwargs)

        async with self._limiter:
            seconds = body_seconds(self._request_timeout, size)
            try:
                response = await self._rounds_of(key, attempt, write=True, seconds=seconds)
            except (VersionExistsError, NotFoundError):
                # 412, or (AWS, moto) 404 for an If-Match on a key that is gone.
                if if_match:
                    raise WriteConflict(f"{key} changed since it was read") from None
                raise
        etag = str(response.get("ETag") or "")
        if not etag:
            raise WrongEndpoint(
                f"{self.where} answered the upload of {key} without an ETag, as no S3 store "
                "does: check --endpoint-url (it may not have been stored)"
            )
        await self._check_stored(key, size, metadata, etag)
        return etag

    async def _check_stored(
        self, key: str, size: int, metadata: Mapping[str, str], etag: str
    ) -> None:
        """A write is done only when the store holds it: one HEAD, its size and sha256."""
        try:
            info, stored = await self.head(key)
        except NotFoundError:
            info, stored = ObjectInfo(key, 0, ""), {}
        wrong = wrong_write(self.where, key, size, metadata, etag, info, stored)
        if wrong is not None:
            raise wrong

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_match:
            kwargs["IfMatch"] = if_match
        from botocore.exceptions import ClientError

        async def attempt() -> None:
            try:
                await self.client.delete_object(**kwargs)
            except ClientError as exc:
                # With If-Match, AWS and moto answer 404 for a key that is already gone.
                if exc.response.get("Error", {}).get("Code") != "NoSuchKey":
                    raise

        async with self._limiter:
            try:
                await self._rounds_of(f"deleting {key}", attempt, write=True)
            except VersionExistsError:  # 412: another ETag (or, on SeaweedFS, gone)
                raise ObjectChanged(f"{key} changed since it was listed") from None

    async def presign(self, key: str, expires_in: int) -> str:
        try:
            url: str = await self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires_in,
            )
        except Exception as exc:
            raise self._translate(exc, key) from None
        return url
