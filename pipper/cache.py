"""The content-addressed local store of bundles.

Layout under the cache root::

    blobs/sha256/<ab>/<digest>      a bundle, named by the sha256 of its bytes
    index/<repo>/<hash>.json         (repository, key, ETag) -> digest, so a warm run needs no GET
    listings/<repo>/<name>.json      the last listing of a package, so --offline needs no network
    tmp/                             downloads in progress (never read as finished entries)

Every write is atomic (``fsutil``), so several pipper processes can share one cache and a kill
at any moment leaves no partial file under a final name. A blob is rehashed before it is used: a
file whose bytes no longer match its name is thrown away and fetched again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipper.fsutil import TMP_PREFIX, atomic_write_bytes
from pipper.storage.base import CHUNK_SIZE, ObjectInfo

HASH_CHUNK = 4 * CHUNK_SIZE


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
        if record.get("key") != key or not self.blob_path(digest).is_file():
            return None
        return digest

    def remember(self, repo_id: str, key: str, etag: str, digest: str, size: int) -> None:
        path = self._index_path(repo_id, key, etag)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"repository": repo_id, "key": key, "etag": etag, "sha256": digest, "size": size}
        atomic_write_bytes(path, json.dumps(record).encode())

    # -- blobs -------------------------------------------------------------------------------

    def verified(self, digest: str) -> Path | None:
        """The blob's path if it exists and its bytes still hash to its name; else None.

        A damaged blob is removed here so the caller fetches it again.
        """
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
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
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
