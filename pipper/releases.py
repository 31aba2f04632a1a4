"""Taking releases back: yank and unyank (PEP 592), delete, and retention of old releases.

Publishing again with ``--force`` rewrites bytes that CI jobs may have locked; a yank only hides a
version: its bundle stays and gains a marker beside it (see ``pipper.yanks``). Resolution sees the
marker in the listing it already makes and skips the version unless a requirement pins exactly
it; the original pipper keeps only ``.pipper`` keys and never sees it.

Deleting removes the bundle (then its marker); retention (``plan_retention``) deletes all but the
newest versions of a package, never its newest final release. Every change is conditional: a
marker is written only if absent (two yanks cannot overwrite each other's reason), and a bundle
or a marker is removed only while it is the object that was listed, so a version published
again meanwhile is never deleted in its place. The simple index follows (``pipper.simple``): a
yank shows in its pages, a deleted version leaves them.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from packaging.version import InvalidVersion, Version

from pipper import simple
from pipper.concurrency import task_group
from pipper.errors import NotFoundError, PipperError, UsageError, VersionExistsError
from pipper.index import PackageIndex
from pipper.keys import primary_tags_key, yank_marker_key
from pipper.models import Candidate
from pipper.repositories import Repository
from pipper.specs import validate_name
from pipper.storage.base import ObjectChanged, Storage
from pipper.yanks import MAX_REASON, Yank, marker_body, read_yank

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Release:
    """One version of one package: every key that spells it, and how many other versions exist."""

    name: str
    version: str
    candidates: tuple[Candidate, ...]
    others: int

    @property
    def parsed(self) -> Version:
        return self.candidates[-1].parsed

    @property
    def yanked(self) -> bool:
        return all(c.yanked for c in self.candidates)

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
) -> Release:
    """The release ``name`` ``version``, from one listing of the package."""
    validate_name(name)
    wanted = parse_version(version)
    candidates = await PackageIndex(repository, storage, None).versions(name)
    if not candidates:
        raise NotFoundError(f"package {name} was not found in {repository.describe()}")
    matches = [c for c in candidates if c.parsed == wanted]
    if not matches:
        have = ", ".join(c.version for c in candidates[-10:])
        have = f"..., {have}" if len(candidates) > 10 else have
        raise NotFoundError(
            f"{candidates[-1].name} {version} is not in {repository.describe()} (it has {have})"
        )
    others = len({c.parsed for c in candidates} - {wanted})
    return Release(matches[-1].name, matches[-1].version, tuple(matches), others)


async def delete_release(storage: Storage, release: Release, *, repository: Repository) -> None:
    """Remove every key of ``release`` (found by ``find_release``): its bundles (every wheel)
    and its markers, then its wheels from the simple index.

    The bundle goes first: a marker left behind by a failure is ignored while its bundle is
    absent, where a bundle left without its marker would be offered again.
    """
    await _delete_bundles(storage, release)
    keys = every_bundle(release.candidates)
    await simple.forget(storage, repository, release.candidates[-1].project, keys)


def every_bundle(candidates: Sequence[Candidate]) -> list[str]:
    """The keys of every bundle of these versions: each ``.pipper`` one and its variants."""
    keys = [c.key for c in candidates]
    return keys + [w.key for c in candidates for w in c.wheels if w.key != c.key]


async def _delete_bundles(storage: Storage, release: Release) -> None:
    for candidate in release.candidates:
        await _delete_listed(
            storage,
            candidate.key,
            candidate.etag,
            f"{release} changed in the repository since it was listed ({candidate.key} was "
            "published again or deleted meanwhile); run the command again",
        )
        # Then what hangs off the bundle: other wheels, the tags marker, the yank marker. Left
        # behind by a failure, each is ignored while the bundle is absent.
        leftovers: list[tuple[str, str | None]] = [
            (w.key, w.etag) for w in candidate.wheels if w.key != candidate.key
        ]
        if candidate.tag_part is not None:
            leftovers.append((primary_tags_key(candidate.key, candidate.tag_part), None))
        if candidate.yank is not None:
            leftovers.append((candidate.yank.key, candidate.yank.etag))
        for key, etag in leftovers:
            try:
                await storage.delete(key, if_match=etag)
            except PipperError as exc:
                log.warning("%s is deleted but %s is not: %s", candidate, key, exc)


async def _delete_listed(storage: Storage, key: str, etag: str, changed: str) -> None:
    """Delete ``key`` only while it has the ETag it was listed with; else fail with ``changed``."""
    try:
        await storage.delete(key, if_match=etag)
    except ObjectChanged:
        raise VersionExistsError(changed) from None


@dataclass(frozen=True)
class RetentionPlan:
    """What retention keeps and removes of one package, releases newest first."""

    name: str
    keep: tuple[Release, ...]
    remove: tuple[Release, ...]
    protected: tuple[tuple[Release, str], ...]  # kept beyond the newest N, and why


def releases_of(candidates: Sequence[Candidate]) -> list[Release]:
    """Candidates grouped by version (two keys can spell one), newest first."""
    by_version: dict[Version, list[Candidate]] = {}
    for candidate in candidates:
        by_version.setdefault(candidate.parsed, []).append(candidate)
    count = len(by_version)
    return [
        Release(group[-1].name, group[-1].version, tuple(group), count - 1)
        for _, group in sorted(by_version.items(), reverse=True)
    ]


def plan_retention(
    candidates: Sequence[Candidate],
    *,
    keep: int,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> RetentionPlan:
    """Keep the ``keep`` newest versions, the newest final release and the newest one not yanked.

    With ``older_than``, a version is removed only when its bundle is at least that old; one whose
    age is unknown is kept. Versions are ordered by version, not by date.
    """
    if keep < 1:
        raise UsageError("--keep must be at least 1")
    releases = releases_of(candidates)
    finals = [r for r in releases if not r.parsed.is_prerelease]
    offered = [r for r in finals if not r.yanked]
    protected: dict[Version, str] = {}
    if offered:
        protected[offered[0].parsed] = "the newest final release not yanked"
    if finals:
        protected[finals[0].parsed] = "the newest final release"
    now = now or datetime.now(UTC)

    def old_enough(release: Release) -> bool:
        times = [c.last_modified for c in release.candidates if c.last_modified is not None]
        return older_than is None or (bool(times) and all(now - t >= older_than for t in times))

    rest = releases[keep:]
    spared = [(r, protected[r.parsed]) for r in rest if r.parsed in protected]
    removed = [r for r in rest if r.parsed not in protected and old_enough(r)]
    kept = [r for r in releases if r not in removed]
    name = releases[0].name if releases else ""
    return RetentionPlan(name, tuple(kept), tuple(removed), tuple(spared))


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
    release = await find_release(storage, repository, name, version)
    todo = [c for c in release.candidates if not c.yanked]
    if not todo:
        return YankChange(release, False, await read_yank(storage, release.candidates[-1]))
    body = marker_body(reason)
    for candidate in todo:
        try:
            await storage.put(yank_marker_key(candidate.key), io.BytesIO(body), {}, if_absent=True)
        except VersionExistsError:
            log.debug("%s was yanked by someone else meanwhile", candidate.key)
    keys = every_bundle(todo)
    await simple.mark_yanked(storage, repository, todo[0].project, keys, yanked=True, reason=reason)
    return YankChange(release, True)


async def unyank(storage: Storage, repository: Repository, name: str, version: str) -> YankChange:
    """Remove a version's yank marker, only while it is the marker just listed."""
    release = await find_release(storage, repository, name, version)
    markers = [c.yank for c in release.candidates if c.yank is not None]
    for marker in markers:
        await _delete_listed(
            storage,
            marker.key,
            marker.etag,
            f"the yank marker of {release} changed while it was being removed "
            "(yanked again meanwhile?); run 'pipper unyank' again",
        )
    if markers:
        keys = every_bundle([c for c in release.candidates if c.yank is not None])
        project = release.candidates[-1].project
        await simple.mark_yanked(storage, repository, project, keys, yanked=False)
    return YankChange(release, bool(markers))


async def plan_prune(
    storage: Storage,
    repository: Repository,
    names: Sequence[str],
    *,
    keep: int,
    older_than: timedelta | None = None,
) -> list[RetentionPlan]:
    """The retention plan of every package named, from one listing each, in the order given."""
    for name in names:
        validate_name(name)
    index = PackageIndex(repository, storage, None)
    plans: dict[str, RetentionPlan] = {}

    async def one(name: str) -> None:
        candidates = await index.versions(name)
        if not candidates:
            raise NotFoundError(f"package {name} was not found in {repository.describe()}")
        plans[name] = plan_retention(candidates, keep=keep, older_than=older_than)

    async with task_group() as tg:
        for name in dict.fromkeys(names):
            tg.start_soon(one, name)
    return [plans[name] for name in dict.fromkeys(names)]
