"""Public wheels in the cache: the same content-addressed blobs as bundles, plus their names.

A public wheel is stored like a bundle, as ``blobs/sha256/<ab>/<digest>`` (rehashed before every
use, thrown away when damaged), so ``cache verify`` and ``cache prune`` treat both alike. A blob
has no name, and pip needs one (``requests-2.32.0-py3-none-any.whl``: the name carries the
version and tags), so each public wheel also gets a small record, ``wheels/<ab>/<digest>.json``,
with its file name, project, version and the URL it came from (never with credentials).

An ``--offline`` run resolves its public requirements with pip against these wheels alone
(``link_all`` puts them in one folder under their names, by hard link), so the offline guarantee
is pip's own: what the cache cannot satisfy is an error that names it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion

from pipper.cache import Cache
from pipper.cache.blobs import DIGEST
from pipper.cache.records import json_files
from pipper.fsutil import atomic_link_or_copy, atomic_write_bytes
from pipper.versions import normalize_name

__all__ = ["PublicWheels", "WheelRecord"]

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 64 * 1024


@dataclass(frozen=True)
class WheelRecord:
    """What names a cached public wheel."""

    sha256: str
    filename: str
    name: str
    version: str
    url: str

    @property
    def project(self) -> str:
        return normalize_name(self.name)

    def to_json(self) -> dict[str, str]:
        return {
            "sha256": self.sha256,
            "filename": self.filename,
            "name": self.name,
            "version": self.version,
            "url": self.url,
        }


def wheel_name_and_version(filename: str) -> tuple[str, str] | None:
    """The project and version a wheel's file name spells, or ``None`` when it is no wheel's
    name (so a record can never name a path)."""
    if os.path.basename(filename) != filename or not filename.endswith(".whl"):
        return None
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return None
    return str(name), str(version)


class PublicWheels:
    """The public wheels of one cache."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.folder = cache.root / "wheels"

    def _record_path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.json"

    def record(self, digest: str) -> WheelRecord | None:
        """The record of ``digest``; a missing, unreadable or inconsistent one is a miss."""
        if not DIGEST.fullmatch(digest):
            return None
        return self._read(self._record_path(digest))

    def verified(self, digest: str) -> tuple[WheelRecord, Path] | None:
        """The record and the blob of ``digest`` when the blob still hashes to it."""
        record = self.record(digest)
        if record is None:
            return None
        there = self.cache.blob_path(digest).is_file()
        path = self.cache.verified(digest)
        if path is None:
            if there:
                log.warning(
                    "the cached public wheel %s no longer hashes to its sha256 %s...: thrown away",
                    record.filename,
                    digest[:12],
                )
            return None
        self.cache.touch(path)
        return record, path

    def commit(self, tmp: Path, record: WheelRecord) -> Path:
        """Move a downloaded wheel (already hashed to ``record.sha256``) into the cache."""
        path = self.cache.commit(tmp, record.sha256)
        target = self._record_path(record.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, json.dumps(record.to_json()).encode(), mode=0o644)
        return path

    def all(self) -> Iterator[WheelRecord]:
        """Every readable record whose blob is present (not rehashed: see ``link_all``)."""
        for path in json_files(self.folder):
            record = self._read(path)
            if record is not None and self.cache.blob_path(record.sha256).is_file():
                yield record

    def link_all(self, folder: Path) -> dict[str, str]:
        """Every cached public wheel in ``folder`` under its file name; ``{file name: sha256}``.

        The blobs are not rehashed here (there may be many): the ones pip then chooses are,
        before they are used.
        """
        placed: dict[str, str] = {}
        for record in self.all():
            if record.filename in placed:
                continue
            try:
                atomic_link_or_copy(self.cache.blob_path(record.sha256), folder / record.filename)
            except OSError as exc:
                log.debug("could not place %s: %s", record.filename, exc)
                continue
            placed[record.filename] = record.sha256
        return placed

    def _read(self, path: Path) -> WheelRecord | None:
        try:
            with path.open("rb") as handle:
                data = json.loads(handle.read(MAX_RECORD_BYTES))
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) for k in ("sha256", "filename", "name", "version", "url")
        ):
            return None
        record = WheelRecord(
            data["sha256"], data["filename"], data["name"], data["version"], data["url"]
        )
        spelled = wheel_name_and_version(record.filename)
        if (
            spelled is None
            or path.name != f"{record.sha256}.json"
            or normalize_name(spelled[0]) != record.project
        ):
            return None
        return record
