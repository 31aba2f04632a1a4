"""The one graph's rule, bound to a run: which requirements are private, which are public.

A run hands this its repository lookup and the target interpreter's markers; the resolver's
``dependencies`` then get every requirement of a bundle (:mod:`pipper.requirements`) split by
the rule: a requirement whose name the repository holds is private and walked, every other one
is public and left for pip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from pipper.concurrency import task_group
from pipper.models import Candidate
from pipper.requirements import (
    Declared,
    PublicRequirement,
    applicable,
    requires_dist_of_bundle,
    to_package_id,
)
from pipper.specs import PackageId
from pipper.versions import normalize_name

if TYPE_CHECKING:
    from pipper.bundle import BundleMeta
    from pipper.models import Package

__all__ = ["Rule"]

Lookup = Callable[[str], Awaitable[list[Candidate]]]


class Rule:
    """Splits requirements for one run: private (the repository holds the name) or public."""

    def __init__(self, markers: Callable[[], Mapping[str, str]], lookup: Lookup) -> None:
        """``markers`` gives the target's marker environment, when one is first needed."""
        self.markers = markers
        self._lookup = lookup

    async def split(
        self, raw: Sequence[str], *, where: str, by: str | None
    ) -> tuple[list[PackageId], list[PublicRequirement]]:
        """Requirements whose markers hold, as private ids and public requirements (``by``
        names who required them; ``None`` is the user)."""
        wanted = applicable(raw, self.markers, where=where)
        held: dict[str, bool] = {}

        async def ask(name: str) -> None:
            held[name] = bool(await self._lookup(name))

        async with task_group() as tg:
            for name in {r.name for r in wanted}:
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


async def declared_in_bundle(
    candidate: Candidate, path: Path, meta: BundleMeta, *, read_wheel: bool
) -> Declared:
    """What a bundle declares; without a recorded ``requires_dist`` the wheel is read (when
    ``read_wheel``: the public half of the graph needs it)."""
    requires = meta.requires_dist
    if requires is None and read_wheel:
        requires = await anyio.to_thread.run_sync(requires_dist_of_bundle, path, str(candidate))
    return Declared(meta.dependencies, requires, meta.pypi)
