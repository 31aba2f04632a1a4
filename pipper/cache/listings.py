"""The remembered listings of each repository, so ``--offline`` resolves with no network.

``listings/<repo>/`` holds two kinds of file. A listing of the whole prefix (``@catalog``) and
the marker of a prefix too large to list whole (``@too-big``) are one file each,
``<name>.json``, whose modification time is its age: a run writes at most one of each. The
listings of single packages, which a repository too large for one listing needs one of per
package, are kept in memory and written together when the run lets go of the cache (``flush``),
as one ``@run-<time>-<pid>-<random>.json`` per run, each listing with the time it was made: a
run over 2,000 packages creates one file, not 4,000 (each with its temporary name).

A reader takes, for each name, the newest listing any file holds; files of one package each, as
earlier versions wrote them, are read too. A flush that finds ``COMPACT_AT`` run files merges
them, writing the union (the newest of each name) before it removes only the files it read, so
two runs writing at once never lose a listing. Every file is a hint, read with a size cap: one
that cannot be parsed is no listing, never an error.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pipper.cache.layout import Folder, UnsafeCacheError, subfolders, walk
from pipper.cache.records import COMPACT_AT, json_entries, short
from pipper.storage.base import ObjectInfo

log = logging.getLogger(__name__)

LISTING_LIMIT = 128 * 2**20
"""The largest listing file read (about 800,000 keys)."""

RUN_FILE = "@run-"
"""The start of the name of a run's file of package listings (no package name starts so)."""

_Saved = tuple[float, Sequence[ObjectInfo]]
"""A listing and the time (``time.time()``) it was made."""


class Listings:
    """The remembered listings of each repository: see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "listings"
        self._pending: dict[str, dict[str, _Saved]] = {}
        self._read: dict[str, dict[str, _Saved]] = {}

    def save(self, repo_id: str, name: str, objects: Sequence[ObjectInfo]) -> None:
        """Remember a listing (best effort: a read-only cache keeps what it has). A package's
        waits for ``flush``; the whole prefix's, or a marker (``@...``), is written now."""
        if not name.startswith("@"):
            self._pending.setdefault(repo_id, {})[name] = (time.time(), tuple(objects))
            return
        doc = {"repository": repo_id, "objects": _dump(objects)}
        self._read.pop(repo_id, None)
        try:
            with self._folder(repo_id, create=True) as folder:
                assert folder is not None
                folder.write(f"{name}.json", json.dumps(doc).encode())
        except (OSError, UnsafeCacheError) as exc:
            log.debug("could not remember the listing of %s: %s", name, exc)

    def flush(self) -> None:
        """Write the package listings made since the last flush: one file per repository."""
        while self._pending:
            repo_id, listings = self._pending.popitem()
            try:
                with self._folder(repo_id, create=True) as folder:
                    assert folder is not None
                    _write_run(folder, repo_id, listings)
                    runs = [n for n in json_entries(folder) if n.startswith(RUN_FILE)]
                    if len(runs) >= COMPACT_AT:
                        _merge(folder, repo_id, runs)
            except (OSError, UnsafeCacheError) as exc:
                log.debug("could not remember the listings of %s: %s", repo_id, exc)
            self._read.pop(repo_id, None)

    def age(self, repo_id: str, name: str) -> float | None:
        """Seconds since the listing was remembered, or None when it never was. The age of a
        marker or of the whole prefix's is one ``lstat`` (an online run asks for it)."""
        if name.startswith("@"):
            with self._folder(repo_id, create=False) as folder:
                st = folder.lstat(f"{name}.json") if folder is not None else None
            ok = st is not None and stat.S_ISREG(st.st_mode)
            return max(0.0, time.time() - st.st_mtime) if ok and st is not None else None
        saved = self._newest(repo_id).get(name)
        return None if saved is None else max(0.0, time.time() - saved[0])

    def ages(self, repo_id: str) -> dict[str, float]:
        """The age of every remembered listing of a repository (an offline run asks for each
        package's: its folder is read once)."""
        now = time.time()
        return {name: max(0.0, now - made) for name, (made, _) in self._newest(repo_id).items()}

    def load(self, repo_id: str, name: str) -> list[ObjectInfo] | None:
        saved = self._newest(repo_id).get(name)
        return None if saved is None else list(saved[1])

    def count(self) -> int:
        """How many listings the cache remembers (``cache info``), pending ones written first."""
        self.flush()
        return sum(len(_read_all(folder)) for _, folder in subfolders(self.root, ("listings",)))

    def prune(self, cutoff: float | None, *, everything: bool) -> int:
        """Remove every file whose listings were all made before ``cutoff`` (every file, with
        ``everything``), and any that cannot be read; the number of listings they held."""
        self.flush()
        self._read.clear()
        removed = 0
        for _, folder in subfolders(self.root, ("listings",)):
            for name in list(json_entries(folder)):
                held = _held(folder, name)
                newest = max((made for made, _ in (held or {}).values()), default=0.0)
                old = everything or held is None or (cutoff is not None and newest < cutoff)
                if old and folder.unlink(name):
                    removed += len(held or ())
        return removed

    def _folder(self, repo_id: str, *, create: bool) -> Any:
        return walk(self.root, ("listings", short(repo_id)), fixed=1, create=create)

    def _newest(self, repo_id: str) -> Mapping[str, _Saved]:
        """Every listing of the repository on disk or pending, the newest of each name."""
        found = self._read.get(repo_id)
        if found is None:
            with self._folder(repo_id, create=False) as folder:
                found = _read_all(folder) if folder is not None else {}
            self._read[repo_id] = found
        pending = self._pending.get(repo_id)
        return {**found, **pending} if pending else found


def _dump(objects: Sequence[ObjectInfo]) -> list[dict[str, Any]]:
    return [
        {
            "key": o.key,
            "size": o.size,
            "etag": o.etag,
            "last_modified": o.last_modified.isoformat() if o.last_modified else None,
        }
        for o in objects
    ]


def _objects(raw: object) -> tuple[ObjectInfo, ...]:
    """The objects of one stored listing; ``ValueError`` (and kin) when it is malformed."""
    if not isinstance(raw, list):
        raise ValueError("not a listing")
    return tuple(
        ObjectInfo(
            key=str(o["key"]),
            size=int(o["size"]),
            etag=str(o["etag"]),
            last_modified=_when(o["last_modified"]),
        )
        for o in raw
    )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _read_all(folder: Folder) -> dict[str, _Saved]:
    """The newest listing of each name in a repository's folder."""
    newest: dict[str, _Saved] = {}
    for _, saved in _files(folder):
        for listed, (made, objects) in saved.items():
            if listed not in newest or newest[listed][0] < made:
                newest[listed] = (made, objects)
    return newest


def _files(folder: Folder) -> Iterator[tuple[str, dict[str, _Saved]]]:
    """Each readable file of the folder with the listings it holds."""
    for name in json_entries(folder):
        held = _held(folder, name)
        if held is not None:
            yield name, held


def _held(folder: Folder, name: str) -> dict[str, _Saved] | None:
    """The listings the file ``name`` holds; None when it is gone or cannot be read as such."""
    raw = folder.read(name, LISTING_LIMIT)
    st = folder.lstat(name)
    if raw is None or st is None:
        return None
    try:
        doc = json.loads(raw)
        if name.startswith(RUN_FILE):
            return {
                str(listed): (float(one["made"]), _objects(one["objects"]))
                for listed, one in doc["listings"].items()
            }
        return {name.removesuffix(".json"): (st.st_mtime, _objects(doc["objects"]))}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _write_run(folder: Folder, repo_id: str, listings: Mapping[str, _Saved]) -> None:
    doc = {
        "repository": repo_id,
        "listings": {
            name: {"made": made, "objects": _dump(objects)}
            for name, (made, objects) in listings.items()
        },
    }
    name = f"{RUN_FILE}{time.time_ns():016x}-{os.getpid()}-{secrets.token_hex(4)}.json"
    folder.write(name, json.dumps(doc, separators=(",", ":")).encode())


def _merge(folder: Folder, repo_id: str, runs: Sequence[str]) -> None:
    """Merge the run files ``runs`` into one: the union is written before any file it replaces
    is removed, and only files that were read are removed."""
    merged: dict[str, _Saved] = {}
    read: list[str] = []
    for name, held in _files(folder):
        if name in runs:
            read.append(name)
            for listed, saved in held.items():
                if listed not in merged or merged[listed][0] < saved[0]:
                    merged[listed] = saved
    if merged:
        _write_run(folder, repo_id, merged)
    for name in read:
        st = folder.lstat(name)
        if st is not None and stat.S_ISREG(st.st_mode):
            folder.unlink(name)
