"""Fetch one bundle into the cache: stream, hash, resume, verify, commit.

The body goes to a temporary file inside the cache and is hashed as it streams, so it is never
held whole in memory. botocore retries failed requests but not a body that breaks off half way,
so this module does: it resumes with a ranged GET tied to the first response's ETag (``If-Match``),
which means a replaced object is never stitched to the old one's first half; if the object did
change, it starts over. A request that cannot even be opened is not retried here: the storage
has already retried it in rounds, and retrying it again would multiply the attempts. Only a
download whose sha256 matches the object's ``sha256`` metadata and whose zip is a valid bundle
for its key is renamed into place.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import replace

import anyio

from pipper.bundle import meta_from, read_bundle
from pipper.cache import Cache
from pipper.errors import BundleError, IntegrityError, NetworkError
from pipper.models import Candidate, Fetched
from pipper.storage.base import ObjectChanged, Storage, StreamInterrupted

log = logging.getLogger(__name__)


class Downloader:
    """Downloads candidates of one repository into one cache."""

    def __init__(
        self,
        storage: Storage,
        cache: Cache,
        repo_id: str,
        *,
        attempts: int = 6,
        on_bytes: Callable[[int], None] | None = None,
        backoff: float = 0.05,
    ) -> None:
        """``backoff`` is the first pause before a resume (``PIPPER_RETRY_BACKOFF`` / 5 in a
        run): it doubles with each broken transfer, up to 2 s, jittered down to half."""
        self.storage = storage
        self.cache = cache
        self.repo_id = repo_id
        self.attempts = attempts
        self.on_bytes = on_bytes
        self.backoff = backoff
        self.retries = 0
        self.bytes = 0

    async def fetch(
        self,
        candidate: Candidate,
        *,
        on_metadata: Callable[[Mapping[str, str]], None] | None = None,
    ) -> Fetched:
        with self.cache.pending(suffix=".part") as part:
            tmp, handle = part.path, part.handle
            digest = hashlib.sha256()
            offset = 0
            etag: str | None = None
            metadata: Mapping[str, str] = {}
            failures = 0
            while True:
                try:
                    async with self.storage.get(
                        candidate.key, start=offset, if_match=etag if offset else None
                    ) as stream:
                        if etag is None:
                            etag = stream.etag
                            metadata = stream.metadata
                            if on_metadata is not None:
                                on_metadata(metadata)
                            known = await self._known(candidate, metadata, etag, stream.total_size)
                            if known is not None:
                                return known
                        async for chunk in stream.chunks():
                            handle.write(chunk)
                            digest.update(chunk)
                            offset += len(chunk)
                            self.bytes += len(chunk)
                            if self.on_bytes is not None:
                                self.on_bytes(len(chunk))
                    break
                except ObjectChanged:
                    log.warning("%s changed during the download; starting it again", candidate.key)
                    handle.seek(0)
                    handle.truncate()
                    digest, offset, etag = hashlib.sha256(), 0, None
                except StreamInterrupted:
                    failures += 1
                    self.retries += 1
                    if failures >= self.attempts:
                        raise NetworkError(
                            f"giving up on {candidate.key} after {failures} broken transfers"
                        ) from None
                    await anyio.sleep(
                        min(2.0, self.backoff * 2**failures) * random.uniform(0.5, 1.0)
                    )
            handle.flush()
            hexdigest = digest.hexdigest()
            expected = metadata.get("sha256")
            if expected and expected.lower() != hexdigest:
                raise IntegrityError(
                    f"{candidate.key}: sha256 {hexdigest[:12]}... does not match the published "
                    f"{expected[:12]}...; the download was discarded"
                )
            try:
                # A published sha256 that matched proves every byte is the publisher's; only
                # a bundle without one (the original's) needs each entry's CRC-32 read.
                meta = read_bundle(
                    tmp,
                    expect_name=candidate.name,
                    expect_version=candidate.version,
                    whole=not expected,
                    file=handle,
                )
            except BundleError as exc:
                # The reason, without the name of a temporary file that is about to vanish.
                reason = exc.message.removeprefix(f"{tmp}: ")
                raise BundleError(
                    f"{candidate.key}: {reason}; the download was discarded"
                ) from None
            path = part.commit(hexdigest)
        self.cache.used(hexdigest, meta.data)
        self._remember(candidate, etag, hexdigest, offset)
        return Fetched(_completed(candidate, offset, etag), hexdigest, path, "network", meta)

    def _remember(self, candidate: Candidate, etag: str | None, digest: str, size: int) -> None:
        for tag in {candidate.etag, etag or ""} - {""}:
            self.cache.remember(self.repo_id, candidate.key, tag, digest, size)

    async def _known(
        self, candidate: Candidate, metadata: Mapping[str, str], etag: str, size: int
    ) -> Fetched | None:
        """The cached bundle these response headers describe, so its body need not be read.

        The object's ``sha256`` metadata names the blob; without it, the ETag index may.
        """
        published = metadata.get("sha256", "").strip().lower()
        digest = published or (
            self.cache.lookup(self.repo_id, candidate.key, etag) if etag else None
        )
        if not digest or not self.cache.present(digest):
            return None  # one stat on the loop: a cold run hops to no thread to learn it
        found = await from_cache(self.cache, digest, candidate)
        if found is None:
            return None
        self._remember(candidate, etag, digest, size)
        return replace(found, candidate=_completed(candidate, size, etag))


async def from_cache(
    cache: Cache,
    digest: str,
    candidate: Candidate,
    *,
    also: Callable[[Fetched], Fetched] | None = None,
    ready: Callable[[Fetched], Fetched | None] | None = None,
) -> Fetched | None:
    """The cached bundle ``digest`` names, checked to be intact and ``candidate``'s; else None.

    A sealed blob (``cache/seals.py``) is checked by one ``lstat`` and its remembered meta, on
    the event loop; any other, by one worker-thread hop that rehashes it and reads its zip. That
    hop also runs ``also`` (an install's wheel extraction) on what it found. ``ready`` is the
    check, a few ``stat`` calls, that a sealed blob needs no ``also`` (its wheel is extracted
    and sealed already): tried on the loop, it spares a warm install a hop per package.
    """
    sealed = cache.sealed_meta(digest)
    if sealed is not None:
        path, data = sealed
        try:
            meta = meta_from(path, data, candidate.name, candidate.version)
        except BundleError:
            return None  # the key names another package: as if the zip had said so
        found = Fetched(candidate, digest, path, "cache", meta)
        if also is None:
            return found
        done = ready(found) if ready is not None else None
        return done if done is not None else await anyio.to_thread.run_sync(also, found)

    def check() -> Fetched | None:
        path = cache.verified(digest)
        if path is None:
            return None
        try:
            meta = read_bundle(path, expect_name=candidate.name, expect_version=candidate.version)
        except BundleError:
            return None
        cache.used(digest, meta.data)
        found = Fetched(candidate, digest, path, "cache", meta)
        return also(found) if also is not None else found

    return await anyio.to_thread.run_sync(check)


def _completed(candidate: Candidate, size: int, etag: str | None) -> Candidate:
    """A candidate known only by its key (a URL) gets the size and ETag the response gave."""
    if candidate.etag or not etag:
        return candidate
    return replace(candidate, size=size, etag=etag)
