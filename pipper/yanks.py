"""Yank markers: what they say, and the warnings about yanked versions a run still uses.

A yanked version's bundle has a marker beside it (the bundle's key with ``.yanked``, see
``pipper.versions``): a small JSON object ``{"reason": ..., "time": ...}``. A listing shows the
marker, so resolution knows a version is yanked with no request of its own; only the reason
needs a GET, made for the few versions that are shown or used while yanked. A marker is written
by hand as easily as by ``pipper yank``, so its content is checked and capped, never trusted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipper.cache import Cache
from pipper.concurrency import task_group
from pipper.errors import NotFoundError, PipperError
from pipper.index import PackageIndex
from pipper.models import Candidate
from pipper.repositories import Repository
from pipper.storage.base import Storage

if TYPE_CHECKING:
    from pipper.lock import LockedPackage

log = logging.getLogger(__name__)

MAX_MARKER_BYTES = 64 * 1024
MAX_REASON = 500


@dataclass(frozen=True)
class Yank:
    """What a marker says; either part may be missing from a marker written by hand."""

    reason: str | None
    time: datetime | None


def marker_body(reason: str | None) -> bytes:
    """The content of a new marker."""
    return json.dumps(
        {"reason": reason, "time": datetime.now(UTC).isoformat(timespec="seconds")}
    ).encode()


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
