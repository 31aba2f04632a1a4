"""What a repository offers: the versions of one package, and every package's latest.

``info`` also says how the version installed in an environment compares with the latest stable
one, the question a user asks before upgrading. The environment is the one ``install`` would
change (its ``--python``, else the active virtual environment, else pipper's own), read by the
installer's probe, so the two commands never disagree about what is installed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.version import InvalidVersion, Version

from pipper.concurrency import task_group
from pipper.errors import NotFoundError, UsageError
from pipper.index import PackageIndex
from pipper.keys import wheel_tag_part
from pipper.models import Candidate
from pipper.storage.base import Storage
from pipper.yanks import Yank, read_yanks


@dataclass(frozen=True)
class PackageInfo:
    name: str
    versions: list[Candidate]  # newest first
    latest: Candidate | None  # newest stable not yanked (else newest not yanked)
    installed: str | None
    status: str  # missing, behind, current, ahead
    yanks: dict[str, Yank]  # by bundle key: what each yanked version's marker says
    tags: dict[str, str | None] = field(default_factory=dict)
    """By wheel key: the tags of each wheel of the versions that hold several (read from the
    ``.pipper`` bundle's metadata where no marker names them); None where nothing says."""


@dataclass(frozen=True)
class PackageSummary:
    name: str
    latest: Candidate | None
    count: int
    yanked: list[Candidate]  # newest first
    yanks: dict[str, Yank]


def latest_of(candidates: list[Candidate]) -> Candidate | None:
    offered = [c for c in candidates if not c.yanked]
    stable = [c for c in offered if not c.parsed.is_prerelease]
    pool = stable or offered
    return max(pool, key=lambda c: c.parsed) if pool else None


def compare(installed: str | None, latest: Candidate | None) -> str:
    if installed is None:
        return "missing"
    if latest is None:
        return "ahead"
    try:
        have = Version(installed)
    except InvalidVersion:
        return "behind"
    if have < latest.parsed:
        return "behind"
    return "current" if have == latest.parsed else "ahead"


async def package_info(
    index: PackageIndex, name: str, environment: Mapping[str, str]
) -> PackageInfo:
    """``environment`` maps PEP 503 names to installed versions (``inspect_environment``)."""
    candidates = await index.versions(name)
    if not candidates:
        raise NotFoundError(f"package {name} was not found in {index.repository.describe()}")
    latest = latest_of(candidates)
    installed = environment.get(candidates[-1].project)
    tags: dict[str, str | None] = {}

    async def learn(storage: Storage, candidate: Candidate) -> None:
        tags[candidate.key] = await tags_of_bundle(storage, candidate.key)

    async with task_group() as tg:
        for candidate in candidates:
            for wheel in candidate.wheels:
                tags[wheel.key] = wheel.tag_part
            if len(candidate.wheels) > 1 and candidate.tag_part is None and index.storage:
                tg.start_soon(learn, index.storage, candidate)
    return PackageInfo(
        tags=tags,
        name=candidates[-1].name,
        versions=sorted(candidates, key=lambda c: c.parsed, reverse=True),
        latest=latest,
        installed=installed,
        status=compare(installed, latest),
        yanks=await read_yanks(index.storage, candidates),
    )


async def tags_of_bundle(storage: Storage, key: str) -> str | None:
    """The tags of the wheel in the bundle at ``key``, from its S3 metadata (the original writes
    the whole meta there too, and so does pipper while it fits); None when it does not say."""
    _, metadata = await storage.head(key)
    try:
        name = json.loads(metadata.get("package", "{}")).get("wheel_name")
        return wheel_tag_part(name) if isinstance(name, str) else None
    except (ValueError, AttributeError, UsageError):
        return None


async def list_packages(index: PackageIndex) -> list[PackageSummary]:
    """Every package with its latest version, its number of versions and its yanks.

    A folder with no version in it is no package: some stores (SeaweedFS) go on listing the
    folder of a package whose last version was deleted.
    """
    names = await index.package_names()
    found: dict[str, list[Candidate]] = {}

    async def one(name: str) -> None:
        found[name] = await index.versions(name)

    async with task_group() as tg:
        for name in names:
            tg.start_soon(one, name)
    yanks = await read_yanks(index.storage, (c for name in names for c in found[name]))
    return [
        PackageSummary(
            name=name,
            latest=latest_of(found[name]),
            count=len(found[name]),
            yanked=sorted((c for c in found[name] if c.yanked), key=lambda c: c.parsed)[::-1],
            yanks={c.key: yanks[c.key] for c in found[name] if c.key in yanks},
        )
        for name in names
        if found[name]
    ]
