"""Public wheels in the cache: the same content-addressed blobs as bundles, plus their names.

A public wheel is stored like a bundle, as ``blobs/sha256/<ab>/<digest>`` (checked before every
use, thrown away when damaged), so ``cache verify`` and ``cache prune`` treat both alike. A blob
has no name, and pip needs one (``requests-2.32.0-py3-none-any.whl``: the name carries the
version and tags), so each public wheel also gets a small record, ``wheels/<ab>/<digest>.json``,
with its file name, project, version and the URL it came from (never with credentials).

An ``--offline`` run resolves its public requirements with pip against these wheels alone
(``link_all`` puts them in one folder under their names, by hard link), so the offline guarantee
is pip's own: what the cache cannot satisfy is an error that names it.

``fetch_public`` brings wheels in: from the cache when their blob still hashes right, else with
one ``pip download`` in hash-checking mode (pip's own networking, credentials and certificates),
each hashed again before it is committed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import anyio
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion

from pipper.cache import Cache
from pipper.cache.blobs import DIGEST, sha256_file
from pipper.errors import IntegrityError, NetworkError, OfflineError, ResolutionError
from pipper.fsutil import TMP_PREFIX, atomic_link_or_copy, atomic_write_bytes, temp_file
from pipper.keys import mask_url, redact_url
from pipper.models import PublicPackage, Source
from pipper.versions import normalize_name

if TYPE_CHECKING:
    from pipper.public import PublicConfig

__all__ = ["NETWORK_MARKS", "PublicWheels", "WheelRecord", "fetch_public"]

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
        with self.cache.pending(".whl") as pending, tmp.open("rb") as source:
            shutil.copyfileobj(source, pending.handle, 1024 * 1024)
            pending.handle.flush()
            path: Path = pending.commit(record.sha256)
        target = self._record_path(record.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, json.dumps(record.to_json()).encode(), mode=0o644)
        return path

    def all(self) -> Iterator[WheelRecord]:
        """Every readable record whose blob is present (not rehashed: see ``link_all``)."""
        for path in _json_files(self.folder):
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


NETWORK_MARKS = (  # what pip prints when it cannot reach an index
    "Failed to establish a new connection",
    "Max retries exceeded",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Connection refused",
    "NewConnectionError",
    "ConnectTimeoutError",
)


async def fetch_public(
    cache: Cache,
    config: PublicConfig,
    wanted: Iterable[tuple[str, str, str, str, str | None]],
    *,
    offline: bool,
    fetch: bool = True,
    required_by: Mapping[str, tuple[str | None, ...]] | None = None,
    dependencies: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, PublicPackage]:
    """Bring ``(name, version, file name, url, sha256)`` wheels into the cache: a cached blob
    that still hashes right costs nothing, the rest come from their URL and must hash to the
    sha256 given (a wheel with none is hashed as it arrives: trust on first use, as pip does).
    Not ``fetch`` (a plan): the rest are ``"network"`` packages with no path."""
    wheels = PublicWheels(cache)
    found: dict[str, PublicPackage] = {}
    missing: list[WheelRecord] = []
    for name, version, filename, url, sha256 in wanted:
        record = WheelRecord(sha256 or "", filename, name, version, redact_url(url))
        hit = wheels.verified(sha256) if sha256 else None
        if hit is None:
            missing.append(record)
        else:
            found[record.project] = _package(hit[0], hit[1], "cache", required_by, dependencies)
    if missing and offline:
        names = ", ".join(f"{r.name} {r.version}" for r in missing)
        raise OfflineError(
            f"--offline: public wheels not in the cache: {names}; run the same command once "
            "without --offline (or 'pipper cache warm')"
        )
    if missing and not fetch:
        for record in missing:
            found[record.project] = _package(record, None, "network", required_by, dependencies)
    elif missing:
        fetched = await anyio.to_thread.run_sync(_download, cache, config, missing)
        for record, path in fetched:
            found[record.project] = _package(record, path, "network", required_by, dependencies)
    return found


def _package(
    record: WheelRecord,
    path: Path | None,
    source: Source,
    required_by: Mapping[str, tuple[str | None, ...]] | None,
    dependencies: Mapping[str, tuple[str, ...]] | None,
) -> PublicPackage:
    return PublicPackage(
        name=record.name,
        version=record.version,
        filename=record.filename,
        sha256=record.sha256,
        url=record.url,
        path=path,
        source=source,
        required_by=(required_by or {}).get(record.project, ()),
        dependencies=(dependencies or {}).get(record.project, ()),
    )


# -- fetching ----------------------------------------------------------------------------------


def _download(
    cache: Cache, config: PublicConfig, missing: Sequence[WheelRecord]
) -> list[tuple[WheelRecord, Path]]:
    """Fetch ``missing`` with one ``pip download`` (pip's networking, credentials and hash
    checking), or straight from disk for ``file:`` URLs; commit each by its sha256."""
    from pipper.install.runner import failure_reason, resolver_pip, run_process

    wheels = PublicWheels(cache)
    done: list[tuple[WheelRecord, Path]] = []
    remote: list[WheelRecord] = []
    for record in missing:
        source = _local_file(record.url)
        if source is not None:
            done.append(_commit(wheels, cache, record, source))
        else:
            remote.append(record)
    if not remote:
        return done
    cache.tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-download-", dir=cache.tmp) as tmp:
        folder = Path(tmp)
        lines = [
            f"{r.name} @ {r.url}" + (f" --hash=sha256:{r.sha256}" if r.sha256 else "")
            for r in remote
        ]
        requirements = folder / "requirements.txt"
        requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
        cmd = [*resolver_pip(config.python), "download", "--no-deps", "--no-input", "--quiet"]
        cmd += ["--disable-pip-version-check", "--progress-bar", "off", "-d", str(folder / "out")]
        if all(r.sha256 for r in remote):
            cmd.append("--require-hashes")
        cmd += [*config.index.pip_args(), "-r", str(requirements)]
        log.debug("fetching public wheels: %s", " ".join(map(mask_url, cmd)))
        code, output = run_process(cmd, None)
        if code != 0:
            reason = failure_reason(output, "pip")
            names = ", ".join(f"{r.name} {r.version}" for r in remote)
            if any(mark in line for line in output for mark in NETWORK_MARKS):
                raise NetworkError(f"could not fetch the public wheels {names}: {reason}")
            if "THESE PACKAGES DO NOT MATCH THE HASHES" in "\n".join(output):
                raise IntegrityError(f"the public wheels {names} do not hash as locked: {reason}")
            raise ResolutionError(f"could not fetch the public wheels {names}: {reason}")
        for record in remote:
            done.append(_commit(wheels, cache, record, folder / "out" / record.filename))
    return done


def _local_file(url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    return Path(unquote(parts.path))


def _commit(
    wheels: PublicWheels, cache: Cache, record: WheelRecord, source: Path
) -> tuple[WheelRecord, Path]:
    """Copy ``source`` into the cache under its sha256, which must be the one expected."""
    if not source.is_file():
        raise ResolutionError(f"{record.name} {record.version}: {record.filename} did not arrive")
    with temp_file(cache.tmp, suffix=".whl") as (tmp, handle), source.open("rb") as src:
        shutil.copyfileobj(src, handle)
        handle.flush()
        actual = sha256_file(tmp)
        if record.sha256 and actual != record.sha256:
            raise IntegrityError(
                f"{record.filename} hashes to {actual[:12]}..., not the {record.sha256[:12]}... "
                "the index (or the lock) gave for it: refused"
            )
        record = WheelRecord(actual, record.filename, record.name, record.version, record.url)
        return record, wheels.commit(tmp, record)


def _json_files(folder: Path) -> Iterator[Path]:
    """Finished ``*.json`` records below ``folder``, sorted; links are never followed."""
    for top, _, names in sorted(os.walk(folder)):  # os.walk does not follow links
        for name in sorted(names):
            path = Path(top) / name
            wanted = name.endswith(".json") and not name.startswith(TMP_PREFIX)
            if wanted and not path.is_symlink() and path.is_file():
                yield path
