"""The one graph's rule, bound to a run: which requirements are private, which are public.

A run hands ``Graph`` its repository lookup and, through its ``PublicConfig``, the target
interpreter's markers. The resolver's ``dependencies`` then get every requirement of a bundle
(:mod:`pipper.requirements`) split by the rule: a requirement whose name the repository holds is
private and walked, every other one is public and kept, with who required it, for pip. Without a
``PublicConfig`` (``--private-only``) a bundle's ``dependencies`` are all there is, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from pipper.concurrency import task_group
from pipper.errors import BundleError, PipperError
from pipper.models import Candidate, Fetched
from pipper.requirements import (
    Declared,
    PublicRequirement,
    applicable,
    declared_in_metadata,
    requires_dist_of_bundle,
    to_package_id,
)
from pipper.specs import PackageId, merge_ids, parse_package_ids
from pipper.versions import normalize_name

if TYPE_CHECKING:
    from pipper.bundle import BundleMeta
    from pipper.models import Package, RunResult
    from pipper.public import PublicConfig

__all__ = ["Graph", "Rule", "declared_in_bundle", "parse_dependencies"]

Lookup = Callable[[str], Awaitable[list[Candidate]]]


async def _nothing(name: str) -> list[Candidate]:
    """The lookup of a run with no repository to ask (bundle URLs alone)."""
    return []


class Rule:
    """Splits requirements: private (the repository holds the name) or public."""

    def __init__(self, markers: Callable[[], Mapping[str, str]], lookup: Lookup) -> None:
        """``markers`` gives the target's marker environment, when one is first needed."""
        self.markers = markers
        self._lookup = lookup
        self._held: dict[str, bool] = {}
        """Whether the repository holds each name asked so far: most names of a graph are
        required by several bundles, and a run asks each once."""

    async def split(
        self, raw: Sequence[str], *, where: str, by: str | None
    ) -> tuple[list[PackageId], list[PublicRequirement]]:
        """Requirements whose markers hold, as private ids and public requirements (``by``
        names who required them; ``None`` is the user)."""
        wanted = applicable(raw, self.markers, where=where)
        held = self._held

        async def ask(name: str) -> None:
            held[name] = bool(await self._lookup(name))

        new = {r.name for r in wanted} - held.keys()
        if len(new) == 1:
            await ask(new.pop())
        elif new:
            async with task_group() as tg:
                for name in new:
                    tg.start_soon(ask, name)
        private = [to_package_id(r, where) for r in wanted if held[r.name]]
        public = [PublicRequirement(str(r), by) for r in wanted if not held[r.name]]
        return private, public

    def unprovided(
        self, packages: Mapping[str, Package], declared: Declared, by: str
    ) -> list[PublicRequirement]:
        """With no repository to ask (bundle URLs): what ``packages`` do not provide is public."""
        assert declared.requires_dist is not None
        wanted = applicable([*declared.requires_dist, *declared.pypi], self.markers, where=by)
        return [
            PublicRequirement(str(r), by) for r in wanted if normalize_name(r.name) not in packages
        ]


class Graph:
    """A run's view of what its bundles require; see the module docstring."""

    def __init__(self, public: PublicConfig | None) -> None:
        self.public = public
        self.rule: Rule | None = None
        self._needs: dict[str, list[PublicRequirement]] = {}
        self._in_headers: dict[str, tuple[str, ...]] = {}

    def _markers(self) -> Mapping[str, str]:
        assert self.public is not None
        return self.public.markers

    async def start(
        self, lookup: Lookup, roots: Sequence[PackageId], requirements: Sequence[str]
    ) -> tuple[list[PackageId], list[PublicRequirement]]:
        """The roots of a walk: ``requirements`` (the input file's ``pypi`` entries) that the
        repository holds join them; the others are the walk's first public requirements."""
        if self.public is None:
            return list(roots), [PublicRequirement(r) for r in requirements]
        self.rule = Rule(self._markers, lookup)
        private, needs = await self.rule.split(requirements, where="the input file", by=None)
        return merge_ids([*roots, *private]), needs

    def needs(self, chosen: Sequence[Candidate]) -> list[PublicRequirement]:
        """The public requirements of the candidates the walk chose."""
        return [need for c in chosen for need in self._needs.get(c.key, [])]

    def keeps(self, metadata: Mapping[str, str], key: str, *, target: bool) -> bool:
        """Whether an installed package's object metadata says all the walk needs of it (then
        its body is not fetched): the wheel's requirements too, unless private-only; never for
        a ``--target`` install, where pip must be handed its wheel."""
        declared = declared_in_metadata(metadata, key)
        if declared is None:
            return False
        return self.public is None or (declared.requires_dist is not None and not target)

    async def dependencies(
        self,
        candidate: Candidate,
        metadata: Mapping[str, str],
        finished: Callable[[], Awaitable[Fetched]],
    ) -> list[PackageId]:
        """A candidate's private dependencies, from its object metadata when that says enough,
        else from its bundle (``finished``); its public requirements are kept for ``needs``."""
        declared = declared_in_metadata(metadata, candidate.key)
        if declared is not None:
            self._in_headers[candidate.key] = declared.dependencies
        if declared is None or (self.rule is not None and declared.requires_dist is None):
            fetched = await finished()
            declared = await declared_in_bundle(
                candidate, fetched.path, fetched.meta, read_wheel=self.rule is not None
            )
        ids = parse_dependencies(candidate, declared.dependencies)
        if self.rule is None:
            return ids
        assert declared.requires_dist is not None
        private, self._needs[candidate.key] = await self.rule.split(
            [*declared.requires_dist, *declared.pypi], where=str(candidate), by=str(candidate)
        )
        return merge_ids([*ids, *private])

    def check_headers(self, candidate: Candidate, meta: BundleMeta) -> None:
        """The object metadata and the bundle's ``package.meta`` must name the same
        dependencies: a bundle is never installed on the word of headers it contradicts."""
        in_headers = self._in_headers.get(candidate.key)
        if in_headers is None:
            return
        in_meta = {d.key for d in parse_dependencies(candidate, meta.dependencies)}
        if in_meta != {d.key for d in parse_dependencies(candidate, in_headers)}:
            raise BundleError(
                f"{candidate.key}: its S3 metadata and its package.meta name different dependencies"
            )

    async def url_needs(self, result: RunResult) -> tuple[PublicRequirement, ...]:
        """The public requirements of a run with bundle URLs: those of the packages resolved by
        name, and what the URL bundles need that the run does not provide."""
        rule = self.rule or Rule(self._markers, _nothing)
        needs = list(result.requirements)
        for package in result.packages.values():
            by_url = "://" in package.candidate.key
            if package.meta is None or package.path is None or not by_url:
                continue
            declared = await declared_in_bundle(
                package.candidate, package.path, package.meta, read_wheel=True
            )
            needs += rule.unprovided(result.packages, declared, str(package.candidate))
        return tuple(dict.fromkeys(needs))


async def declared_in_bundle(
    candidate: Candidate, path: Path, meta: BundleMeta, *, read_wheel: bool
) -> Declared:
    """What a bundle declares; without a recorded ``requires_dist`` the wheel is read (when
    ``read_wheel``: the public half of the graph needs it)."""
    requires = meta.requires_dist
    if requires is None and read_wheel:
        requires = await anyio.to_thread.run_sync(requires_dist_of_bundle, path, str(candidate))
    return Declared(meta.dependencies, requires, meta.pypi)


def parse_dependencies(candidate: Candidate, raw: Sequence[str]) -> list[PackageId]:
    """A bundle's ``dependencies`` as ids; an invalid one is the bundle's fault."""
    try:
        return parse_package_ids(raw)
    except PipperError as exc:
        raise BundleError(f"{candidate.key} declares an invalid dependency: {exc}") from None
