"""The breadth-first walk that chooses one version per package.

Each level of the graph is handled at once: the listings of all its new packages run
concurrently, each package gets the newest version that satisfies every constraint met so far,
and the dependencies of all chosen versions are asked for concurrently (which, in a ``Session``,
starts their downloads). When a constraint met later excludes a version chosen earlier, that
package is chosen again and the walk starts over with the new choice kept (bounded by
``max_rounds``). When no version of a package fits, the version of one package that imposed a
conflicting constraint is set aside and the walk starts over (so ``http 2.0`` needing
``utils>=2`` gives way to ``http 1.0`` when ``models`` needs ``utils<2``). Where nothing fits
even so, the error names every constraint and the chain of packages that brought it in.

Prereleases follow PEP 440 as pip applies it: the versions every constraint on a package allows
are its final releases when there is at least one, else its prereleases. So ``a`` with only
``1.0.0a1`` published gets ``1.0.0a1``, and ``a<0.2.0`` with ``0.1.0a1`` and ``0.2.0`` gets
``0.1.0a1`` (``<0.2.0`` excludes ``0.2.0``'s own prereleases), while a final release that fits
always wins over a newer prerelease. ``--pre``, or a constraint that names a prerelease
(``>=2.0rc1``), lets every prerelease compete with the final releases.

A yanked version (PEP 592) is skipped unless a constraint pins exactly it (``==1.2.0`` or
``===1.2.0``); it is skipped before the prerelease rule, so it counts as if it were not there.

The resolver knows nothing of HTTP or files: it is handed two async callables, one that lists a
package's candidates and one that returns a candidate's dependencies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.version import Version

from pipper.concurrency import task_group
from pipper.errors import NotFoundError, ResolutionError
from pipper.models import Candidate
from pipper.specs import PackageId
from pipper.versions import pins_exactly

ListVersions = Callable[[str], Awaitable[list[Candidate]]]


class _Restart(Exception):
    """A choice changed in a way that needs a fresh walk."""


GetDependencies = Callable[[Candidate], Awaitable[list[PackageId]]]


@dataclass(frozen=True)
class Edge:
    """A constraint on a package and who imposed it (``None``: the user)."""

    spec: PackageId
    parent: str | None


@dataclass(frozen=True)
class ResolvedNode:
    candidate: Candidate
    dependencies: tuple[str, ...]
    required_by: tuple[str | None, ...]
    depth: int


@dataclass(frozen=True)
class Resolution:
    """The chosen graph, in breadth-first order, keyed by PEP 503 name."""

    nodes: Mapping[str, ResolvedNode]
    rounds: int
    depth: int


class Resolver:
    def __init__(
        self,
        versions: ListVersions,
        dependencies: GetDependencies,
        *,
        pre: bool = False,
        prefer: Mapping[str, str] | None = None,
        max_rounds: int = 100,
        where: str = "the repository",
    ) -> None:
        self._where = where
        self._versions = versions
        self._dependencies = dependencies
        self._pre = pre
        self._prefer = dict(prefer or {})
        self._max_rounds = max_rounds
        self._choices: dict[str, Candidate] = {}
        self._excluded: dict[str, set[Candidate]] = {}
        self._walk_edges: Mapping[str, list[Edge]] = {}
        self._listings: dict[str, list[Candidate]] = {}

    async def resolve(self, roots: Sequence[PackageId]) -> Resolution:
        for round_number in range(1, self._max_rounds + 1):
            try:
                result = await self._walk(roots, round_number)
            except _Restart:
                continue
            if result is not None:
                return result
        raise ResolutionError(
            f"the dependency graph did not settle after {self._max_rounds} rounds of choosing again"
        )

    async def _walk(self, roots: Sequence[PackageId], round_number: int) -> Resolution | None:
        edges: dict[str, list[Edge]] = {}
        self._walk_edges = edges
        first_parent: dict[str, str | None] = {}
        depth_of: dict[str, int] = {}
        deps_of: dict[str, list[PackageId]] = {}
        order: list[str] = []
        level: list[Edge] = [Edge(spec, None) for spec in roots]
        depth = 0
        while level:
            new: list[str] = []
            for edge in level:
                key = edge.spec.key
                edges.setdefault(key, []).append(edge)
                if key not in first_parent:
                    first_parent[key] = edge.parent
                    depth_of[key] = depth
                    new.append(key)
                    order.append(key)
            names = {edge.spec.key: edge.spec.name for edge in level}
            listings = await self._list_all({key: names[key] for key in new})
            self._listings.update(listings)
            for key in new:
                self._choose(key, listings[key], edges[key], first_parent, depth_of)
            # Constraints that arrived at packages chosen at an earlier level.
            rechosen = False
            for edge in level:
                key = edge.spec.key
                if key in new:
                    continue
                if not self._contains(self._choices[key], edges[key]):
                    self._choose(key, self._listings[key], edges[key], first_parent, depth_of)
                    rechosen = True
            if rechosen:
                return None
            found = await self._deps_all([self._choices[key] for key in new])
            deps_of.update(found)
            level = [Edge(dep, key) for key in new for dep in deps_of[key]]
            depth += 1
        # Every constraint is known now: a choice kept from an earlier round must also be the
        # kind of version they allow (not a prerelease where a final release fits, not a yanked
        # version that no constraint pins).
        for key in order:
            listing = self._listings[key]
            if self._choices[key] not in self._fitting(listing, edges[key]):
                self._choose(key, listing, edges[key], first_parent, depth_of, keep=False)
                return None
        nodes = {
            key: ResolvedNode(
                candidate=self._choices[key],
                dependencies=tuple(dict.fromkeys(d.key for d in deps_of[key])),
                required_by=tuple(dict.fromkeys(e.parent for e in edges[key])),
                depth=depth_of[key],
            )
            for key in order
        }
        return Resolution(nodes=nodes, rounds=round_number, depth=max(depth_of.values(), default=0))

    async def _list_all(self, names: Mapping[str, str]) -> dict[str, list[Candidate]]:
        results: dict[str, list[Candidate]] = {}

        async def one(key: str, name: str) -> None:
            results[key] = await self._versions(name)

        async with task_group() as tg:
            for key, name in names.items():
                tg.start_soon(one, key, name)
        return results

    async def _deps_all(self, chosen: list[Candidate]) -> dict[str, list[PackageId]]:
        results: dict[str, list[PackageId]] = {}

        async def one(candidate: Candidate) -> None:
            results[candidate.project] = await self._dependencies(candidate)

        async with task_group() as tg:
            # The biggest bundles first: their downloads take longest.
            for candidate in sorted(chosen, key=lambda c: -c.size):
                tg.start_soon(one, candidate)
        return results

    def _allows_pre(self, edges: Sequence[Edge]) -> bool:
        return self._pre or any(edge.spec.prereleases for edge in edges)

    def _fitting(self, listing: Sequence[Candidate], edges: Sequence[Edge]) -> list[Candidate]:
        """The versions of ``listing`` that every constraint allows, by PEP 440's rule.

        Which versions fit depends on the whole listing, not on one version alone: a prerelease
        fits only when no final release satisfies the constraints (or prereleases are allowed).
        """
        matching = [c for c in listing if self._satisfies(c, edges)]
        if self._allows_pre(edges):
            return matching
        final = [c for c in matching if not c.parsed.is_prerelease]
        return final or matching

    def _choose(
        self,
        key: str,
        listing: list[Candidate],
        edges: list[Edge],
        first_parent: Mapping[str, str | None],
        depth_of: Mapping[str, int],
        *,
        keep: bool = True,
    ) -> None:
        """Choose a version of ``key`` that fits ``edges``; ``keep`` the current one if it may.

        The current choice is kept while the constraints seen so far contain it, even when the
        prerelease or the yank rule alone would pick another: the constraint that made it the
        only fit (``>1`` leaving a prerelease, ``==1.1.0`` pinning a yanked version) may be met
        later in this walk, and the end of the walk checks both rules against every constraint.
        """
        name = edges[0].spec.name
        if not listing:
            parent = edges[0].parent
            where = f" (required by {self._chain(parent, first_parent)})" if parent else ""
            raise NotFoundError(f"package {name} was not found in {self._where}{where}")
        excluded = self._excluded.get(key, set())
        fitting = [c for c in self._fitting(listing, edges) if c not in excluded]
        if not fitting and keep:
            # Only yanked versions are left: a pin met later in this walk may select one, so
            # one stands in until the end of the walk judges it against every constraint.
            fitting = [c for c in listing if c not in excluded and self._contains(c, edges)]
        if not fitting:
            self._set_aside_a_parent(edges)
            raise ResolutionError(self._conflict(name, listing, edges, first_parent))
        current = self._choices.get(key)
        preferred = self._prefer.get(key)
        if (
            keep
            and current is not None
            and current not in excluded
            and self._contains(current, edges)
        ):
            choice = current
        elif preferred is not None and (
            match := [c for c in fitting if c.parsed == Version(preferred)]
        ):
            choice = match[-1]
        else:
            choice = max(fitting, key=lambda c: c.parsed)
        self._choices[key] = choice

    def _set_aside_a_parent(self, edges: Sequence[Edge]) -> None:
        """Exclude the current version of the latest parent that has another version to offer.

        Raises ``_Restart`` when one was set aside; returns when none can be.
        """
        for edge in reversed(edges):
            parent = edge.parent
            if parent is None or parent not in self._choices:
                continue
            current = self._choices[parent]
            excluded = self._excluded.setdefault(parent, set())
            fitting = self._fitting(
                self._listings.get(parent, []), self._walk_edges.get(parent, [])
            )
            others = [c for c in fitting if c != current and c not in excluded]
            if others:
                excluded.add(current)
                del self._choices[parent]
                raise _Restart
        return

    def _chain(self, key: str | None, first_parent: Mapping[str, str | None]) -> str:
        steps: list[str] = []
        seen: set[str] = set()
        while key is not None and key not in seen:
            seen.add(key)
            chosen = self._choices.get(key)
            steps.append(str(chosen) if chosen else key)
            key = first_parent.get(key)
        return " -> ".join(["requested", *reversed(steps)])

    def _conflict(
        self,
        name: str,
        listing: list[Candidate],
        edges: list[Edge],
        first_parent: Mapping[str, str | None],
    ) -> str:
        parts = []
        for edge in edges:
            spec = str(edge.spec.specifier) or "any version"
            source = self._chain(edge.parent, first_parent) if edge.parent else "requested"
            parts.append(f"{spec} (from {source})")
        available = ", ".join(c.version + (" (yanked)" if c.yanked else "") for c in listing)
        hint = ""
        if yanked := [c for c in listing if c.yanked and self._contains(c, edges)]:
            newest = max(yanked, key=lambda c: c.parsed)
            hint = f"; {newest.version} is yanked: pin it (=={newest.version}) to use it anyway"
        return (
            f"no version of {name} satisfies every constraint: "
            f"{'; '.join(parts)}; available: {available}{hint}"
        )

    @classmethod
    def _satisfies(cls, candidate: Candidate, edges: Sequence[Edge]) -> bool:
        """Whether every constraint allows the version, prereleases judged by ``_fitting``."""
        if candidate.yanked and not any(
            pins_exactly(edge.spec.specifier, candidate.parsed) for edge in edges
        ):
            return False
        return cls._contains(candidate, edges)

    @staticmethod
    def _contains(candidate: Candidate, edges: Sequence[Edge]) -> bool:
        return all(
            edge.spec.specifier.contains(candidate.parsed, prereleases=True) for edge in edges
        )
