"""Taking releases back: yank and unyank (PEP 592).

Publishing again with ``--force`` rewrites bytes that CI jobs may have locked; a yank only hides a
version. A yanked version keeps its bundle and gains a marker beside it (the bundle's key with
``.yanked``, see ``pipper.versions``): a small JSON object ``{"reason": ..., "time": ...}``.
Resolution sees the marker in the listing it already makes and skips the version unless a
requirement pins exactly it; the original pipper keeps only ``.pipper`` keys and never sees it.

Every change is conditional: a marker is written only if absent (two yanks cannot overwrite each
other's reason) and removed only while it is the marker that was listed.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from packaging.version import InvalidVersion, Version

from pipper.cache import Cache
from pipper.concurrency import task_group
from pipper.config import Repository
from pipper.errors import NotFoundError, PipperError, UsageError, VersionExistsError
from pipper.index import Candidate, PackageIndex
from pipper.lock import LockedPackage
from pipper.specs import validate_name
from pipper.storage.base import ObjectChanged, Storage
from pipper.versions import yank_marker_key

log = logging.getLogger(__name__)

MAX_MARKER_BYTES = 64 * 1024
MAX_REASON = 500


@dataclass(frozen=True)
class Yank:
    """What a marker says; either part may be missing from a marker written by hand."""

    reason: str | None
    time: datetime | None


@dataclass(frozen=True)
class Release:
    """One version of one package: every key that spells it, and how many other versions exist."""

    name: str
    version: str
    candidates: tuple[Candidate, ...]
    others: int

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class YankChange:
    release: Release
    changed: bool  # False: it already was (yank) or was not (unyank) yanked
    previous: Yank | None = None  # what the marker said, when it was already yanked


def parse_version(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise UsageError(f"{version!r} is not a valid version") from None


async def find_release(
    storage: Storage, repository: Repository, name: str, version: str
) -> tuple[Release, list[Candidate]]:
    """The release ``name`` ``version`` and every version of the package, from one listing."""
    validate_name(name)
    wanted = parse_version(version)
    candidates = await PackageIndex(repository, storage, None).versions(name)
    if not candidates:
        raise NotFoundError(f"package {name} was not found in {repository.describe()}")
    matches = [c for c in candidates if c.parsed == wanted]
    if not matches:
        have = ", ".join(c.version for c in candidates)
        raise NotFoundError(
            f"{candidates[-1].name} {version} is not in {repository.describe()} (it has {have})"
        )
    others = len({c.parsed for c in candidates} - {wanted})
    return Release(matches[-1].name, matches[-1].version, tuple(matches), others), candidates


def clean_reason(reason: str | None) -> str | None:
    """One line of at most ``MAX_REASON`` printable characters (it is shown in terminals)."""
    if reason is None:
        return None
    text = " ".join(reason.split())
    if not all(ch.isprintable() for ch in text):
        raise UsageError("the reason contains a control or non-printable character")
    if len(text) > MAX_REASON:
        raise UsageError(f"the reason is {len(text)} characters long; at most {MAX_REASON}")
    return text or None


async def yank(
    storage: Storage, repository: Repository, name: str, version: str, reason: str | None
) -> YankChange:
    """Mark a version yanked; a version already yanked is left as it is."""
    reason = clean_reason(reason)
    release, _ = await find_release(storage, repository, name, version)
    todo = [c for c in release.candidates if not c.yanked]
    if not todo:
        return YankChange(release, False, await read_yank(storage, release.candidates[-1]))
    body = json.dumps(
        {"reason": reason, "time": datetime.now(UTC).isoformat(timespec="seconds")}
    ).encode()
    with tempfile.TemporaryDirectory(prefix="pipper-yank-") as tmp:
        path = Path(tmp) / "marker.json"
        path.write_bytes(body)
        for candidate in todo:
            try:
                await storage.put(yank_marker_key(candidate.key), path, {}, if_absent=True)
            except VersionExistsError:
                log.debug("%s was yanked by someone else meanwhile", candidate.key)
    return YankChange(release, True)


async def unyank(storage: Storage, repository: Repository, name: str, version: str) -> YankChange:
    """Remove a version's yank marker, only while it is the marker just listed."""
    release, _ = await find_release(storage, repository, name, version)
    markers = [c.yank for c in release.candidates if c.yank is not None]
    for marker in markers:
        try:
            await storage.delete(marker.key, if_match=marker.etag)
        except ObjectChanged:
            raise VersionExistsError(
                f"the yank marker of {release} changed while it was being removed "
                "(yanked again meanwhile?); run 'pipper unyank' again"
            ) from None
    return YankChange(release, bool(markers))


async def read_yank(storage: Storage, candidate: Candidate) -> Yank | None:
    """What a candidate's marker says; None when it is not yanked (or no longer)."""
    if candidate.yank is None:
        return None
    data = bytearray()
    try:
        async with storage.get(candidate.yank.key) as stream:
            async for chunk in stream.chunks():
                data += chunk
                if len(data) > MAX_MARKER_BYTES:
                    log.warning("%s is too large for a yank marker", candidate.yank.key)
                    return Yank(None, None)
    except NotFoundError:
        return None
    return _parse_marker(bytes(data), candidate.yank.key)


def _parse_marker(data: bytes, key: str) -> Yank:
    """A marker's content; anything odd gives a yank with no reason, never an error."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        log.warning("%s is not a JSON yank marker", key)
        return Yank(None, None)
    if not isinstance(document, dict):
        return Yank(None, None)
    raw_reason, raw_time = document.get("reason"), document.get("time")
    reason = None
    if isinstance(raw_reason, str):
        flat = " ".join(raw_reason.split())[:MAX_REASON]
        reason = "".join(ch if ch.isprintable() else "?" for ch in flat) or None
    when = None
    if isinstance(raw_time, str):
        try:
            when = datetime.fromisoformat(raw_time)
        except ValueError:
            when = None
    return Yank(reason, when)


async def read_yanks(storage: Storage | None, candidates: Iterable[Candidate]) -> dict[str, Yank]:
    """The markers of every yanked candidate, by bundle key, read concurrently."""
    found: dict[str, Yank] = {}
    if storage is None:
        return found

    async def one(candidate: Candidate) -> None:
        yank_info = await read_yank(storage, candidate)
        if yank_info is not None:
            found[candidate.key] = yank_info

    async with task_group() as tg:
        for candidate in candidates:
            if candidate.yanked:
                tg.start_soon(one, candidate)
    return found


def describe_yank(yank_info: Yank | None) -> str:
    """``yanked: <reason>``, as ``info``, ``list`` and the warnings print it."""
    reason = yank_info.reason if yank_info is not None else None
    return f"yanked: {reason}" if reason else "yanked"


async def warn_yanked(storage: Storage | None, candidates: Sequence[Candidate], why: str) -> None:
    """One warning per yanked candidate, with its reason when the marker can be read."""
    yanked = [c for c in candidates if c.yanked]
    if not yanked:
        return
    try:
        yanks = await read_yanks(storage, yanked)
    except PipperError as exc:
        log.debug("could not read the yank markers: %s", exc)
        yanks = {}
    for candidate in yanked:
        log.warning("%s is %s; %s", candidate, describe_yank(yanks.get(candidate.key)), why)


async def warn_locked(
    repository: Repository,
    storage: Storage | None,
    cache: Cache,
    packages: Iterable[LockedPackage],
    *,
    listed: Collection[str] = (),
) -> None:
    """Warn about every package of a lock that is yanked; never fails the run.

    A lock run lists nothing it does not have to: the packages it fetches (``listed``, by PEP 503
    name) are looked up in a fresh listing (one of the whole prefix where it fits), made while
    their GETs run; the packages the cache answers are looked up in the listing the cache last
    remembered, with no request. So a warm, offline run warns about what was yanked when the
    cache last saw the repository.
    """
    online = PackageIndex(repository, storage, cache, whole_prefix=True) if storage else None
    remembered = PackageIndex(repository, None, cache, offline=True)
    found: list[Candidate] = []

    async def one(package: LockedPackage) -> None:
        index = online if online is not None and package.project in listed else remembered
        try:
            candidates = await index.versions(package.name)
        except PipperError as exc:
            log.debug("cannot tell whether %s is yanked: %s", package, exc)
            return
        found.extend(c for c in candidates if c.key == package.key and c.yanked)

    async with task_group() as tg:
        for package in packages:
            tg.start_soon(one, package)
    await warn_yanked(
        storage, sorted(found, key=lambda c: c.key), "it is used because the lock names it"
    )
