"""The content-addressed local store of bundles.

Layout under the cache root::

    blobs/sha256/<ab>/<digest>      a bundle, named by the sha256 of its bytes   (blobs.py)
    index/<repo>/<run>.json          (repository, key, ETag) -> digest, so a warm run needs no GET
    listings/<repo>/<name>.json      the last listing of the whole prefix (``@catalog.json``), and
             /@run-<run>.json        of packages, so --offline needs no network   (listings.py)
    seals.json                       blobs known intact by their stat, with their meta, so a
                                     warm run neither rehashes nor unzips them     (seals.py)
    extracted/<digest>/<wheel>       the wheel of blob <digest>, extracted once for pip and uv
                                     at a stable path, sealed against changes   (extracted.py)
    botocore/<name>.marshal          botocore's data files as parsed, so creating an S3 client
                                     parses no JSON        (pipper/storage/botodata.py)
    tmp/                             downloads in progress (never read as finished entries)
    lock                             the flock that keeps ``prune`` away from running runs
                                                                                    (locking.py)
    CACHEDIR.TAG                     marks the folder as a cache               (layout.py)

``cache info``, ``verify`` and ``prune`` live in ``maintenance.py``; how every path below the
root is reached without following a link, in ``layout.py``. ``Cache`` is the one object the rest
of pipper holds: it puts the parts together and answers for all of them.

Every write is atomic (``fsutil``), so several pipper processes can share one cache and a kill
at any moment leaves no partial file under a final name. A blob is checked before it is used,
by its seal or by rehashing it: a file whose bytes no longer match its name, or anything that is
not a regular file where a file belongs, is thrown away and fetched again.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipper.cache import layout
from pipper.cache.blobs import HASH_CHUNK, Blobs, CacheEntry, PendingBlob, sha256_file, sha256_of
from pipper.cache.extracted import ExtractedWheel, ExtractedWheels
from pipper.cache.layout import UnsafeCacheError
from pipper.cache.listings import Listings
from pipper.cache.locking import CacheHold, CacheLock
from pipper.cache.records import Records
from pipper.cache.seals import Seals
from pipper.errors import PipperError
from pipper.storage.base import ObjectInfo

if TYPE_CHECKING:  # maintenance (info, verify, prune) is imported when one runs
    from pipper.cache.maintenance import CacheStats, PruneReport, VerifyReport

__all__ = [
    "HASH_CHUNK",
    "Cache",
    "CacheEntry",
    "CacheHold",
    "ExtractedWheel",
    "ExtractedWheels",
    "UnsafeCacheError",
    "sha256_file",
    "sha256_of",
]

log = logging.getLogger(__name__)


class Cache:
    """A content-addressed bundle store rooted at one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = Blobs(root)
        self.records = Records(root)
        self.listings = Listings(root)
        self.extracted = ExtractedWheels(root)
        self.seals = Seals(root, self.blobs.path)
        self.tmp = root / "tmp"
        self.lock = CacheLock(root)
        # Records of a run used without a hold are still written, when the cache goes away.
        weakref.finalize(self, self.records.flush)
        weakref.finalize(self, self.seals.flush)
        weakref.finalize(self, self.listings.flush)

    def prepare(self) -> None:
        """What a run does before it uses the cache: refuse one whose folders are links
        (``UnsafeCacheError``), and make and mark the folder (``CACHEDIR.TAG``) if it can."""
        layout.check(self.root, strict=False)
        layout.mark(self.root)

    # -- blobs -------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        return self.blobs.path(digest)

    def verified(self, digest: str) -> Path | None:
        """The blob's path if it exists and its bytes still hash to its name (or its file is
        the one sealed when they last did); else None."""
        sealed = self.seals.intact(digest)
        path = sealed[0] if sealed is not None else self.blobs.verified(digest)
        if path is None:
            self.seals.forget(digest)
        else:
            self.seals.used(digest)
        return path

    def sealed_meta(self, digest: str) -> tuple[Path, dict[str, Any]] | None:
        """A bundle blob's path and ``package.meta`` when its file is the one sealed: checked
        by one ``lstat``, so the event loop can ask (``verified`` may rehash)."""
        sealed = self.seals.intact(digest)
        if sealed is None or sealed[1] is None:
            return None
        self.seals.used(digest)
        return sealed[0], dict(sealed[1])

    def used(self, digest: str, meta: Mapping[str, Any]) -> None:
        """Note a bundle blob checked by its bytes (``verified``, a download): it is sealed,
        with its meta, when the run lets go of the cache."""
        self.seals.used(digest, meta)

    def present(self, digest: str) -> bool:
        """Whether a file is where the blob would be: one stat, no hashing (``verified`` is the
        check; this only spares a cold run the work of finding nothing)."""
        return self.blobs.present(digest)

    def pending(self, suffix: str = ".part") -> AbstractContextManager[PendingBlob]:
        """A new file in ``tmp/`` for a download; ``commit(digest)`` puts it in place."""
        return self.blobs.pending(suffix)

    def entries(self) -> Iterator[CacheEntry]:
        return self.blobs.entries()

    def touch(self, path: Path) -> None:
        self.blobs.touch(path)

    # -- the (repository, key, ETag) index -------------------------------------------------

    def lookup(self, repo_id: str, key: str, etag: str) -> str | None:
        """The digest recorded for this object, if its blob is still present."""
        digest = self.records.lookup(repo_id, key, etag)
        if digest is None or not self.blobs.present(digest):
            return None
        return digest

    def remember(self, repo_id: str, key: str, etag: str, digest: str, size: int) -> None:
        """Record which blob an object is; written when the run's hold is released."""
        self.records.remember(repo_id, key, etag, digest, size)

    # -- remembered listings -----------------------------------------------------------------

    def save_listing(self, repo_id: str, name: str, objects: Sequence[ObjectInfo]) -> None:
        self.listings.save(repo_id, name, objects)

    def listing_age(self, repo_id: str, name: str) -> float | None:
        return self.listings.age(repo_id, name)

    def listing_ages(self, repo_id: str) -> dict[str, float]:
        return self.listings.ages(repo_id)

    def load_listing(self, repo_id: str, name: str) -> list[ObjectInfo] | None:
        return self.listings.load(repo_id, name)

    # -- the lock between runs and prune -----------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.lock.path

    def try_hold(self, *, exclusive: bool = False) -> CacheHold | None:
        return self.lock.try_hold(exclusive=exclusive)

    async def hold_for_run(self, *, timeout: float = 600.0) -> CacheHold:
        """The shared lock a run holds until its files are no longer used.

        Only a prune holds the lock exclusively, and only for the moments it takes; a run that
        meets one waits for it rather than watching entries vanish.
        """

        self.prepare()

        def waiting(_: int | None) -> None:
            log.warning("waiting for 'pipper cache prune' to finish with %s", self.root)

        hold = await self.lock.wait_hold_async(exclusive=False, timeout=timeout, on_wait=waiting)
        if hold is None:
            raise PipperError(
                f"the cache {self.root} stayed locked by 'pipper cache prune' for {timeout:.0f} s"
            )
        hold.before_release(self.records.flush)
        hold.before_release(self.seals.flush)
        hold.before_release(self.listings.flush)
        return hold

    def holders(self) -> int | None:
        return self.lock.holders()

    # -- maintenance -------------------------------------------------------------------------

    def check_removable(self) -> None:
        """Refuse (``UnsafeCacheError``) a folder that is no marked cache, or whose folders are
        links or another user's: what ``verify`` and ``prune`` check before they remove."""
        from pipper.cache import maintenance

        maintenance.check_removable(self)

    def stats(self) -> CacheStats:
        from pipper.cache import maintenance

        return maintenance.stats(self)

    def verify_all(self, on_entry: Callable[[CacheEntry], None] | None = None) -> VerifyReport:
        from pipper.cache import maintenance

        return maintenance.verify(self, on_entry)

    def prune(
        self,
        *,
        older_than: float | None = None,
        everything: bool = False,
        now: float | None = None,
    ) -> PruneReport:
        """See ``maintenance.prune``; call it holding the exclusive lock."""
        from pipper.cache import maintenance

        if everything:
            self.seals.drop_all()
            with layout.walk(self.root, ("botocore",), fixed=1, create=False) as kept:
                if kept is not None:
                    for entry in kept.entries():
                        kept.unlink(entry.name)
        return maintenance.prune(self, older_than=older_than, everything=everything, now=now)
