"""What the cache remembers about a repository: which blob an object is, and its listings.

``index/<repo>/*.json`` maps (repository, key, ETag) to the sha256 of the bytes, so a warm run
recognises a bundle from a listing alone and needs no GET. ``listings/<repo>/<name>.json``
is the last listing of a package (``@catalog.json``: of the whole prefix), so ``--offline``
needs no network. Both are hints read from disk: a record that cannot be parsed, names another
key, or names something that is not a digest is a miss, never a path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from pipper.cache.blobs import DIGEST
from pipper.fsutil import TMP_PREFIX, atomic_write_bytes
from pipper.storage.base import ObjectInfo

log = logging.getLogger(__name__)


def short(text: str) -> str:
    """A fixed-length file name for any text (a repository id, a key and its ETag)."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def json_files(folder: Path) -> Iterator[Path]:
    """Finished ``*.json`` files below ``folder`` (temporary files skipped), sorted."""
    if folder.is_dir():
        for path in sorted(folder.rglob("*.json")):
            if path.is_file() and not path.name.startswith(TMP_PREFIX):
                yield path


Record = dict[str, object]

COMPACT_AT = 16
"""A repository's index is merged into one file once a flush finds this many files in it."""

FLUSH_AT = 1000
"""Records kept in memory before they are written without waiting for the end of the run."""


class Records:
    """The (repository, key, ETag) -> sha256 index.

    A run learns one record per bundle it downloads. Writing each to its own file would cost a
    file (and its temporary name) per bundle, so the records of a run are kept in memory and
    written together, as one file per repository, when the run lets go of the cache lock
    (``flush``). A flush that finds ``COMPACT_AT`` files in a repository's folder merges them:
    it writes the union first and removes only the files it read, so two processes merging at
    once, or one merging while another flushes, never lose a record. Files of one record each,
    as earlier versions wrote them, are read too.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._known: dict[str, dict[tuple[str, str], str]] = {}
        self._pending: dict[str, list[Record]] = {}

    def _repo_folder(self, repo_id: str) -> Path:
        return self.folder / short(repo_id)

    def lookup(self, repo_id: str, key: str, etag: str) -> str | None:
        """The digest recorded for this object, or None."""
        known = self._known.get(repo_id)
        if known is None:
            known = self._known[repo_id] = self._load(self._repo_folder(repo_id))
            known.update(_entries(self._pending.get(repo_id, [])))
        return known.get((key, etag))

    def remember(self, repo_id: str, key: str, etag: str, digest: str, size: int) -> None:
        record: Record = {"key": key, "etag": etag, "sha256": digest, "size": size}
        pending = self._pending.setdefault(repo_id, [])
        pending.append(record)
        if repo_id in self._known:
            self._known[repo_id][(key, etag)] = digest
        if len(pending) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Write the records learnt since the last flush: one file per repository.

        Best effort: a cache that cannot be written (read-only, full) only loses the shortcut.
        """
        while self._pending:
            repo_id, records = self._pending.popitem()
            try:
                self._write(self._repo_folder(repo_id), repo_id, records)
                if len(list(self._files(self._repo_folder(repo_id)))) >= COMPACT_AT:
                    self.rewrite(repo_id, keep=lambda record: True)
            except OSError as exc:
                log.debug("could not write the index of %s: %s", repo_id, exc)

    def rewrite(self, repo_id: str, keep: Callable[[Record], bool]) -> int:
        """Merge a repository's files into one, keeping the records ``keep`` accepts.

        Returns how many records were dropped. The merged file is written before any file it
        replaces is removed, and only files that were read are removed.
        """
        return self._rewrite(self._repo_folder(repo_id), repo_id, keep)

    def rewrite_all(self, keep: Callable[[Record], bool]) -> int:
        """``rewrite`` every repository's folder (``prune``); returns the records dropped."""
        if not self.folder.is_dir():
            return 0
        dropped = 0
        for folder in sorted(p for p in self.folder.iterdir() if p.is_dir()):
            dropped += self._rewrite(folder, None, keep)
        return dropped

    def all(self) -> Iterator[Record]:
        """Every readable record of every repository (for ``cache info``)."""
        if not self.folder.is_dir():
            return
        for folder in sorted(p for p in self.folder.iterdir() if p.is_dir()):
            for _, records in self._read(folder):
                yield from records

    # -- files ---------------------------------------------------------------------------

    def _files(self, folder: Path) -> Iterator[Path]:
        return json_files(folder)

    def _load(self, folder: Path) -> dict[tuple[str, str], str]:
        """A repository's whole index, read again if a merge removed a file meanwhile."""
        for _ in range(3):
            vanished: list[Path] = []
            known = dict(_entries([r for _, rs in self._read(folder, vanished) for r in rs]))
            if not vanished:
                break
        return known

    def _read(
        self, folder: Path, vanished: list[Path] | None = None
    ) -> Iterator[tuple[Path, list[Record]]]:
        """Each file of a folder with its valid records, oldest file first."""
        for path in self._files(folder):
            try:
                data = json.loads(path.read_bytes())
            except FileNotFoundError:
                if vanished is not None:
                    vanished.append(path)
                continue
            except (OSError, ValueError, RecursionError):
                continue
            yield path, _valid(data)

    def _write(self, folder: Path, repo_id: str, records: Sequence[Record]) -> None:
        doc = {"repository": repo_id, "records": list(records)}
        name = f"{time.time_ns():016x}-{os.getpid()}-{secrets.token_hex(4)}.json"
        atomic_write_bytes(folder / name, json.dumps(doc, separators=(",", ":")).encode())

    def _rewrite(self, folder: Path, repo_id: str | None, keep: Callable[[Record], bool]) -> int:
        read: list[Path] = []
        merged: dict[tuple[str, str], Record] = {}
        dropped = 0
        for path, records in self._read(folder):
            read.append(path)
            for record in records:
                repo_id = repo_id or str(record.get("repository") or "")
                if keep(record):
                    merged[(str(record["key"]), str(record["etag"]))] = record
                else:
                    dropped += 1
        if merged:
            for record in merged.values():
                record.pop("repository", None)
            self._write(folder, repo_id or "?", list(merged.values()))
        for path in read:
            path.unlink(missing_ok=True)
        return dropped


def _valid(data: object) -> list[Record]:
    """The well-formed records of a file: a run's ``records`` list, or one older record."""
    if not isinstance(data, dict):
        return []
    raw = data.get("records") if "records" in data else [data]
    if not isinstance(raw, list):
        return []
    repository = data.get("repository")
    valid = []
    for record in raw:
        if (
            isinstance(record, dict)
            and isinstance(record.get("key"), str)
            and isinstance(record.get("etag"), str)
            and isinstance(record.get("sha256"), str)
            and DIGEST.fullmatch(record["sha256"])  # data on disk never names a path
        ):
            valid.append({**record, "repository": record.get("repository", repository)})
    return valid


def _entries(records: Sequence[Record]) -> Iterator[tuple[tuple[str, str], str]]:
    for record in records:
        yield (str(record["key"]), str(record["etag"])), str(record["sha256"])


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
