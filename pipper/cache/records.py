"""What the cache remembers about a repository: which blob an object is, and its listings.

``index/<repo>/<hash>.json`` maps (repository, key, ETag) to the sha256 of the bytes, so a warm
run recognises a bundle from a listing alone and needs no GET. ``listings/<repo>/<name>.json``
is the last listing of a package (``@catalog.json``: of the whole prefix), so ``--offline``
needs no network. Both are hints read from disk: a record that cannot be parsed, names another
key, or names something that is not a digest is a miss, never a path.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from pipper.cache.blobs import DIGEST
from pipper.fsutil import TMP_PREFIX, atomic_write_bytes
from pipper.storage.base import ObjectInfo


def short(text: str) -> str:
    """A fixed-length file name for any text (a repository id, a key and its ETag)."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def json_files(folder: Path) -> Iterator[Path]:
    """Finished ``*.json`` files below ``folder`` (temporary files skipped), sorted."""
    if folder.is_dir():
        for path in sorted(folder.rglob("*.json")):
            if path.is_file() and not path.name.startswith(TMP_PREFIX):
                yield path


class Records:
    """The (repository, key, ETag) -> sha256 index."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, repo_id: str, key: str, etag: str) -> Path:
        return self.folder / short(repo_id) / f"{short(key + chr(0) + etag)}.json"

    def lookup(self, repo_id: str, key: str, etag: str) -> str | None:
        """The digest recorded for this object, or None."""
        try:
            record = json.loads(self._path(repo_id, key, etag).read_bytes())
            digest = str(record["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        # The record is data on disk: never let it name a path outside the store.
        if not DIGEST.fullmatch(digest) or record.get("key") != key:
            return None
        return digest

    def remember(self, repo_id: str, key: str, etag: str, digest: str, size: int) -> None:
        record = {"repository": repo_id, "key": key, "etag": etag, "sha256": digest, "size": size}
        atomic_write_bytes(self._path(repo_id, key, etag), json.dumps(record).encode())

    def all(self) -> Iterator[tuple[Path, dict[str, object]]]:
        """Every readable record with the file it is in (for ``cache info`` and ``prune``)."""
        for path in json_files(self.folder):
            try:
                record = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict):
                yield path, record


class Listings:
    """The remembered listings of each repository."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, repo_id: str, name: str) -> Path:
        return self.folder / short(repo_id) / f"{name}.json"

    def save(self, repo_id: str, name: str, objects: Sequence[ObjectInfo]) -> None:
        data = [
            {
                "key": o.key,
                "size": o.size,
                "etag": o.etag,
                "last_modified": o.last_modified.isoformat() if o.last_modified else None,
            }
            for o in objects
        ]
        path = self._path(repo_id, name)
        atomic_write_bytes(path, json.dumps({"repository": repo_id, "objects": data}).encode())

    def age(self, repo_id: str, name: str) -> float | None:
        """Seconds since the listing was remembered, or None when it never was."""
        try:
            return time.time() - self._path(repo_id, name).stat().st_mtime
        except OSError:
            return None

    def load(self, repo_id: str, name: str) -> list[ObjectInfo] | None:
        try:
            data = json.loads(self._path(repo_id, name).read_bytes())
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

    def files(self) -> Iterator[Path]:
        return json_files(self.folder)
