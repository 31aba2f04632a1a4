"""What the cache remembers about a repository's objects: which blob each one is.

``index/<repo>/*.json`` maps (repository, key, ETag) to the sha256 of the bytes, so a warm run
recognises a bundle from a listing alone and needs no GET. It is a hint read from disk, with a
size cap: a record that cannot be parsed, names another key, or names something that is not a
digest is a miss, never a path. Remembered listings are ``listings.py``'s.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pipper.cache.blobs import DIGEST
from pipper.cache.layout import Folder, UnsafeCacheError, subfolders, walk
from pipper.fsutil import TMP_PREFIX

log = logging.getLogger(__name__)

Record = dict[str, object]

COMPACT_AT = 16
"""A repository's index is merged into one file once a flush finds this many files in it."""

FLUSH_AT = 1000
"""Records kept in memory before they are written without waiting for the end of the run."""

INDEX_LIMIT = 64 * 2**20
"""The largest index file read (about 250,000 records); anything larger is not ours."""


def short(text: str) -> str:
    """A fixed-length file name for any text (a repository id, a key and its ETag)."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def json_entries(folder: Folder) -> Iterator[str]:
    """Names of the finished ``*.json`` files of ``folder`` (temporary files skipped)."""
    for entry in folder.entries():
        if entry.name.endswith(".json") and not entry.name.startswith(TMP_PREFIX):
            yield entry.name


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

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "index"
        self._known: dict[str, dict[tuple[str, str], str]] = {}
        self._pending: dict[str, list[Record]] = {}

    def lookup(self, repo_id: str, key: str, etag: str) -> str | None:
        """The digest recorded for this object, or None."""
        known = self._known.get(repo_id)
        if known is None:
            known = self._known[repo_id] = self._load(repo_id)
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
                with walk(self.root, ("index", short(repo_id)), fixed=1, create=True) as folder:
                    assert folder is not None
                    _write(folder, repo_id, records)
                    if sum(1 for _ in json_entries(folder)) >= COMPACT_AT:
                        _rewrite(folder, lambda record: True)
            except (OSError, UnsafeCacheError) as exc:
                log.debug("could not write the index of %s: %s", repo_id, exc)

    def rewrite_all(self, keep: Callable[[Record], bool]) -> int:
        """Merge each repository's files into one, keeping the records ``keep`` accepts
        (``prune``); returns how many records were dropped."""
        return sum(_rewrite(folder, keep) for _, folder in subfolders(self.root, ("index",)))

    def all(self) -> Iterator[Record]:
        """Every readable record of every repository (for ``cache info``)."""
        for _, folder in subfolders(self.root, ("index",)):
            for _, records in _read(folder):
                yield from records

    def _load(self, repo_id: str) -> dict[tuple[str, str], str]:
        """A repository's whole index, read again if a merge removed a file meanwhile."""
        known: dict[tuple[str, str], str] = {}
        with walk(self.root, ("index", short(repo_id)), fixed=1, create=False) as folder:
            for _ in range(3 if folder is not None else 0):
                assert folder is not None
                vanished: list[str] = []
                known = dict(_entries([r for _, rs in _read(folder, vanished) for r in rs]))
                if not vanished:
                    break
        return known


def _read(folder: Folder, vanished: list[str] | None = None) -> Iterator[tuple[str, list[Record]]]:
    """Each file of a repository's folder with its valid records, oldest file first."""
    for name in json_entries(folder):
        data = folder.read(name, INDEX_LIMIT)
        if data is None:
            if vanished is not None:
                vanished.append(name)
            continue
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            continue
        yield name, _valid(doc)


def _write(folder: Folder, repo_id: str, records: Sequence[Record]) -> None:
    doc = {"repository": repo_id, "records": list(records)}
    name = f"{time.time_ns():016x}-{os.getpid()}-{secrets.token_hex(4)}.json"
    folder.write(name, json.dumps(doc, separators=(",", ":")).encode())


def _rewrite(folder: Folder, keep: Callable[[Record], bool]) -> int:
    """Merge the folder's files into one; the merged file is written before any file it
    replaces is removed, and only files that were read are removed. Returns the records
    dropped."""
    read: list[str] = []
    merged: dict[tuple[str, str], Record] = {}
    repo_id, dropped = "", 0
    for name, records in _read(folder):
        read.append(name)
        for found in records:
            repo_id = repo_id or str(found.get("repository") or "")
            record = {k: v for k, v in found.items() if k != "repository"}
            if keep(record):
                merged[(str(record["key"]), str(record["etag"]))] = record
            else:
                dropped += 1
    if merged:
        _write(folder, repo_id or "?", list(merged.values()))
    for name in read:
        folder.unlink(name)
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
