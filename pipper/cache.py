"""The content-addressed local store of bundles.

Layout under the cache root::

    blobs/sha256/<ab>/<digest>      a bundle, named by the sha256 of its bytes
    index/<repo>/<hash>.json         (repository, key, ETag) -> digest, so a warm run needs no GET
    listings/<repo>/<name>.json      the last listing of a package (``@catalog.json``: of the whole
                                     prefix), so --offline needs no network
    tmp/                             downloads in progress (never read as finished entries)
    lock                             the flock that keeps ``prune`` away from running sessions

Every write is atomic (``fsutil``), so several pipper processes can share one cache and a kill
at any moment leaves no partial file under a final name. A blob is rehashed before it is used: a
file whose bytes no longer match its name is thrown away and fetched again.

Removing entries is the one thing that could hurt another process: a session that has checked a
blob and is about to link it into a folder (or hand it to pip) must not see it vanish. So every
session holds a *shared* ``flock`` on ``lock`` for its whole run (``hold``), and ``prune`` takes
the *exclusive* lock: it waits, saying so, until the sessions running when it started are done
(sessions that start meanwhile wait the few moments the prune takes). Waiting was chosen over a
lock-free prune because only a lock makes "never mid-use" true rather than merely unlikely: with
mtimes alone, a blob checked a moment before the prune looked at it could still disappear before
it is linked. ``verify`` needs no exclusive lock: it only removes blobs whose bytes are already
wrong, which no session would use either.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipper.errors import PipperError
from pipper.fsutil import TMP_PREFIX, atomic_write_bytes
from pipper.storage.base import CHUNK_SIZE, ObjectInfo

HASH_CHUNK = 4 * CHUNK_SIZE
_DIGEST = re.compile(r"[0-9a-f]{64}")
STALE_TMP_SECONDS = 24 * 3600
"""A temporary file this old belongs to a process that died; prune removes it."""

log = logging.getLogger(__name__)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class CacheEntry:
    """One blob in the store."""

    digest: str
    path: Path
    size: int
    mtime: float


class Cache:
    """A content-addressed bundle store rooted at one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.tmp = root / "tmp"

    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest[:2] / digest

    def _index_path(self, repo_id: str, key: str, etag: str) -> Path:
        return self.root / "index" / _short(repo_id) / f"{_short(key + chr(0) + etag)}.json"

    def _listing_path(self, repo_id: str, name: str) -> Path:
        return self.root / "listings" / _short(repo_id) / f"{name}.json"

    # -- the (repository, key, ETag) index -------------------------------------------------

    def lookup(self, repo_id: str, key: str, etag: str) -> str | None:
        """The digest recorded for this object, if its blob is still present."""
        try:
            record = json.loads(self._index_path(repo_id, key, etag).read_bytes())
            digest = str(record["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        # The record is data on disk: never let it name a path outside the store.
        if not _DIGEST.fullmatch(digest) or record.get("key") != key:
            return None
        if not self.blob_path(digest).is_file():
            return None
        return digest

    def remember(self, repo_id: str, key: str, etag: str, digest: str, size: int) -> None:
        path = self._index_path(repo_id, key, etag)
        record = {"repository": repo_id, "key": key, "etag": etag, "sha256": digest, "size": size}
        atomic_write_bytes(path, json.dumps(record).encode())

    # -- blobs -------------------------------------------------------------------------------

    def verified(self, digest: str) -> Path | None:
        """The blob's path if it exists and its bytes still hash to its name; else None.

        A damaged blob is removed here so the caller fetches it again.
        """
        if not _DIGEST.fullmatch(digest):
            return None  # a name from a header or a record, never a path
        path = self.blob_path(digest)
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            return None
        if actual != digest:
            path.unlink(missing_ok=True)
            return None
        return path

    def commit(self, tmp: Path, digest: str) -> Path:
        """Move a finished, verified download into place under its digest."""
        target = self.blob_path(digest)
        os.chmod(tmp, 0o444)
        try:
            os.replace(tmp, target)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        return target

    def entries(self) -> Iterator[CacheEntry]:
        if not self.blobs.is_dir():
            return
        for sub in sorted(self.blobs.iterdir()):
            if not sub.is_dir():
                continue
            for blob in sorted(sub.iterdir()):
                if blob.name.startswith(TMP_PREFIX):
                    continue
                try:
                    st = blob.stat()
                except FileNotFoundError:
                    continue
                yield CacheEntry(blob.name, blob, st.st_size, st.st_mtime)

    def touch(self, path: Path) -> None:
        """Mark a blob as used now, so ``prune --older-than`` keeps what is in use."""
        try:
            now = time.time()
            os.utime(path, (now, now))
        except OSError:
            pass

    # -- remembered listings -----------------------------------------------------------------

    def save_listing(self, repo_id: str, name: str, objects: Sequence[ObjectInfo]) -> None:
        path = self._listing_path(repo_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = [
            {
                "key": o.key,
                "size": o.size,
                "etag": o.etag,
                "last_modified": o.last_modified.isoformat() if o.last_modified else None,
            }
            for o in objects
        ]
        atomic_write_bytes(path, json.dumps({"repository": repo_id, "objects": data}).encode())

    def listing_age(self, repo_id: str, name: str) -> float | None:
        """Seconds since the listing was remembered, or None when it never was."""
        try:
            return time.time() - self._listing_path(repo_id, name).stat().st_mtime
        except OSError:
            return None

    def load_listing(self, repo_id: str, name: str) -> list[ObjectInfo] | None:
        try:
            data = json.loads(self._listing_path(repo_id, name).read_bytes())
            return [
                ObjectInfo(
                    key=str(o["key"]),
                    size=int(o["size"]),
                    etag=str(o["etag"]),
                    last_modified=(
                        datetime.fromisoformat(o["last_modified"]) if o["last_modified"] else None
                    ),
                )
                for o in data["objects"]
            ]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    # -- the lock between sessions and prune -------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.root / "lock"

    def try_hold(self, *, exclusive: bool = False) -> CacheHold | None:
        """Take the cache lock without waiting; ``None`` while another process holds it against us.

        A cache where no lock can be taken (a read-only folder, a file system without ``flock``)
        gets a hold that guards nothing rather than an error: such a cache can hardly be pruned
        under a running session either.
        """
        try:
            import fcntl
        except ImportError:
            return CacheHold(None)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            try:
                fd = os.open(self.lock_path, os.O_RDONLY)
            except OSError as exc:
                log.debug("no cache lock at %s: %s", self.lock_path, exc)
                return CacheHold(None)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            log.debug("cannot lock %s: %s", self.lock_path, exc)
            return CacheHold(None)
        return CacheHold(fd)

    def wait_hold(
        self,
        *,
        exclusive: bool,
        timeout: float,
        on_wait: Callable[[int | None], None] | None = None,
        poll: float = 0.1,
    ) -> CacheHold | None:
        """``try_hold`` until it succeeds or ``timeout`` seconds pass (then ``None``).

        ``on_wait`` is called once, with the number of processes in the way when known, the
        first time the lock is busy.
        """
        deadline = time.monotonic() + timeout
        told = False
        while True:
            hold = self.try_hold(exclusive=exclusive)
            if hold is not None:
                return hold
            if not told and on_wait is not None:
                on_wait(self.holders())
            told = True
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)

    async def hold(self, *, timeout: float = 600.0) -> CacheHold:
        """The shared hold for a run, waiting (without blocking the event loop) while a
        ``cache prune`` holds the cache exclusively."""
        import anyio

        deadline = anyio.current_time() + timeout
        told = False
        while (hold := self.try_hold()) is None:
            if not told:
                log.warning("waiting for 'pipper cache prune' to finish with %s", self.root)
                told = True
            if anyio.current_time() >= deadline:
                raise PipperError(
                    f"the cache {self.root} stayed locked by 'pipper cache prune' "
                    f"for {timeout:.0f} s"
                )
            await anyio.sleep(0.1)
        return hold

    def holders(self) -> int | None:
        """Other processes holding the cache lock, from Linux's ``/proc/locks``; None if unknown."""
        try:
            st = self.lock_path.stat()
            table = Path("/proc/locks").read_text()
        except OSError:
            return None
        where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        pids = set()
        for line in table.splitlines():
            fields = line.split()
            if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK" or fields[5] != where:
                continue
            pids.add(fields[4])
        pids.discard(str(os.getpid()))
        return len(pids) or None

    # -- maintenance: info, verify, prune ----------------------------------------------------

    def _files(self, folder: Path, pattern: str = "*") -> Iterator[Path]:
        if folder.is_dir():
            yield from sorted(p for p in folder.rglob(pattern) if p.is_file())

    def _index_records(self) -> Iterator[tuple[Path, dict[str, object]]]:
        for path in self._files(self.root / "index", "*.json"):
            if path.name.startswith(TMP_PREFIX):
                continue
            try:
                record = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict):
                yield path, record

    def stats(self) -> CacheStats:
        """What the cache holds: every blob, and per repository the blobs its index names."""
        blobs = {entry.digest: entry for entry in self.entries()}
        by_repository: dict[str, set[str]] = {}
        for _, record in self._index_records():
            digest = record.get("sha256")
            if isinstance(digest, str) and digest in blobs:
                by_repository.setdefault(str(record.get("repository", "?")), set()).add(digest)
        indexed = set().union(*by_repository.values()) if by_repository else set()
        unindexed = [entry for digest, entry in blobs.items() if digest not in indexed]
        temporary = list(self._files(self.tmp))
        return CacheStats(
            root=self.root,
            entries=len(blobs),
            size=sum(entry.size for entry in blobs.values()),
            repositories=tuple(
                RepositoryUsage(
                    repository=repository,
                    entries=len(digests),
                    size=sum(blobs[d].size for d in digests),
                )
                for repository, digests in sorted(by_repository.items())
            ),
            unindexed_entries=len(unindexed),
            unindexed_size=sum(entry.size for entry in unindexed),
            listings=sum(1 for _ in self._files(self.root / "listings", "*.json")),
            tmp_files=len(temporary),
            tmp_size=sum(_size(p) for p in temporary),
        )

    def verify_all(self, on_entry: Callable[[CacheEntry], None] | None = None) -> VerifyReport:
        """Rehash every blob; remove (and report) those whose bytes no longer match their name."""
        checked, size = 0, 0
        damaged: list[CacheEntry] = []
        for entry in self.entries():
            if on_entry is not None:
                on_entry(entry)
            checked += 1
            size += entry.size
            if not self._intact_or_removed(entry.path, entry.digest):
                damaged.append(entry)
        return VerifyReport(checked=checked, size=size, damaged=tuple(damaged))

    def _intact_or_removed(self, path: Path, digest: str) -> bool:
        """True when the blob hashes to its name; else it is removed, unless replaced meanwhile.

        The file hashed is the one unlinked (same inode), so a good copy that another process
        committed while this one was hashing the damaged one is never thrown away.
        """
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return True
        with handle:
            st = os.fstat(handle.fileno())
            actual = hashlib.file_digest(handle, "sha256").hexdigest()
        if actual == digest:
            return True
        try:
            now = path.stat()
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                path.unlink()
        except FileNotFoundError:
            pass
        return False

    def prune(
        self,
        *,
        older_than: float | None = None,
        everything: bool = False,
        now: float | None = None,
    ) -> PruneReport:
        """Remove blobs not used for ``older_than`` seconds, or every entry with ``everything``.

        Always removes what no running process can need: temporary files older than a day (all
        of them with ``everything``) and index records whose blob is gone. Remembered listings
        go with ``everything``, or when older than ``older_than``. Call it holding the exclusive
        lock (``try_hold(exclusive=True)``), so no session is using what it removes.
        """
        now = time.time() if now is None else now
        cutoff = None if older_than is None else now - older_than
        removed, removed_size, kept, kept_size = 0, 0, 0, 0
        for entry in list(self.entries()):
            if everything or (cutoff is not None and entry.mtime < cutoff):
                if _unlink(entry.path):
                    removed += 1
                    removed_size += entry.size
            else:
                kept += 1
                kept_size += entry.size
        records = 0
        for path, record in list(self._index_records()):
            digest = record.get("sha256")
            gone = not isinstance(digest, str) or not self.blob_path(digest).is_file()
            if (everything or gone) and _unlink(path):
                records += 1
        listings = 0
        for path in list(self._files(self.root / "listings", "*.json")):
            old = cutoff is not None and _mtime(path) < cutoff
            if (everything or old) and _unlink(path):
                listings += 1
        tmp_files = 0
        stale = now - STALE_TMP_SECONDS
        for folder in (self.tmp, self.root / "index", self.root / "listings", self.blobs):
            for path in list(self._files(folder)):
                in_tmp = folder == self.tmp
                if not (in_tmp or path.name.startswith(TMP_PREFIX)):
                    continue
                if (everything or _mtime(path) < stale) and _unlink(path):
                    tmp_files += 1
        for folder in (self.blobs, self.root / "index", self.root / "listings"):
            _remove_empty_dirs(folder)
        return PruneReport(
            entries=removed,
            size=removed_size,
            kept=kept,
            kept_size=kept_size,
            records=records,
            listings=listings,
            tmp_files=tmp_files,
        )


class CacheHold:
    """A held cache lock, released by ``release()``, when garbage collected, or at exit."""

    def __init__(self, fd: int | None) -> None:
        self._finalizer = weakref.finalize(self, os.close, fd) if fd is not None else None

    @property
    def held(self) -> bool:
        return self._finalizer is not None and self._finalizer.alive

    def release(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> CacheHold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class RepositoryUsage:
    repository: str
    entries: int
    size: int


@dataclass(frozen=True)
class CacheStats:
    """``cache info``: a blob shared by two repositories counts in both of their lines."""

    root: Path
    entries: int
    size: int
    repositories: tuple[RepositoryUsage, ...]
    unindexed_entries: int
    unindexed_size: int
    listings: int
    tmp_files: int
    tmp_size: int


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    size: int
    damaged: tuple[CacheEntry, ...]


@dataclass(frozen=True)
class PruneReport:
    entries: int
    size: int
    kept: int
    kept_size: int
    records: int
    listings: int
    tmp_files: int


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
