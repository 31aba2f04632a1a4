"""The resolver on its own: two plain async callables stand in for a repository.

The resolver knows nothing of storage, so these graphs need no bucket, no bundle and no cache:
``Repo`` answers "which versions of this package?" and "what does this version need?" from a
dict, and counts how often it was asked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TypedDict, Unpack

import pytest
from packaging.version import Version

from pipper.errors import NotFoundError, ResolutionError
from pipper.models import Candidate
from pipper.resolver import Resolution, Resolver
from pipper.specs import PackageId, parse_package_id
from pipper.versions import normalize_name

pytestmark = pytest.mark.anyio

# name -> version -> dependencies, as pipper ids ("base:>=1.0")
Graph = Mapping[str, Mapping[str, Sequence[str]]]


class Options(TypedDict, total=False):
    """The resolver's keyword options a test may set."""

    pre: bool
    prefer: Mapping[str, str]
    max_rounds: int
    where: str


class Repo:
    """A repository as the resolver sees it, read from a graph."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.listed: Counter[str] = Counter()
        self.asked: Counter[str] = Counter()

    async def versions(self, name: str) -> list[Candidate]:
        self.listed[normalize_name(name)] += 1
        for folder, versions in self.graph.items():
            if normalize_name(folder) == normalize_name(name):
                found = [
                    Candidate(folder, str(Version(v)), f"pipper/{folder}/{v}", 100, f'"{v}"')
                    for v in versions
                ]
                return sorted(found, key=lambda c: c.parsed)
        return []

    async def dependencies(self, candidate: Candidate) -> list[PackageId]:
        self.asked[str(candidate)] += 1
        versions = self.graph[candidate.name]
        deps = next(d for v, d in versions.items() if Version(v) == candidate.parsed)
        return [parse_package_id(dep) for dep in deps]

    def resolver(self, **options: Unpack[Options]) -> Resolver:
        return Resolver(self.versions, self.dependencies, **options)


async def resolve(graph: Graph, *roots: str, **options: Unpack[Options]) -> Resolution:
    return await Repo(graph).resolver(**options).resolve([parse_package_id(r) for r in roots])


def chosen(resolution: Resolution) -> dict[str, str]:
    return {node.candidate.name: node.candidate.version for node in resolution.nodes.values()}


async def test_a_diamond_takes_the_newest_version_both_sides_allow() -> None:
    repo = Repo(
        {
            "top": {"1.0.0": ["left", "right"]},
            "left": {"1.0.0": ["base:>=1.0"]},
            "right": {"1.0.0": ["base:<3"]},
            "base": {"1.0.0": [], "2.0.0": [], "3.0.0": []},
        }
    )
    resolution = await repo.resolver().resolve([parse_package_id("top")])
    assert chosen(resolution) == {
        "top": "1.0.0",
        "left": "1.0.0",
        "right": "1.0.0",
        "base": "2.0.0",
    }
    assert list(resolution.nodes) == ["top", "left", "right", "base"]  # breadth first
    base = resolution.nodes["base"]
    assert (base.required_by, base.depth) == (("left", "right"), 2)
    assert resolution.nodes["top"].dependencies == ("left", "right")
    assert (resolution.rounds, resolution.depth) == (1, 2)
    # Each package is listed once and each chosen version asked for its dependencies once.
    assert set(repo.listed.values()) == {1} and len(repo.listed) == 4
    assert set(repo.asked.values()) == {1} and len(repo.asked) == 4


async def test_a_cycle_is_walked_once() -> None:
    graph: Graph = {f"c{i}": {"1.0.0": [f"c{(i + 1) % 8}"]} for i in range(8)}
    resolution = await resolve(graph, "c0")
    assert set(chosen(resolution)) == {f"c{i}" for i in range(8)}
    assert resolution.depth == 7
    assert resolution.nodes["c0"].required_by == (None, "c7")


async def test_a_conflict_names_every_constraint_and_the_chain_that_brought_it() -> None:
    graph: Graph = {
        "app": {"1.0.0": ["left", "right"]},
        "left": {"1.0.0": ["shared:>=2"]},
        "right": {"1.0.0": ["shared:<2"]},
        "shared": {"1.0.0": [], "2.0.0": []},
    }
    with pytest.raises(ResolutionError) as caught:
        await resolve(graph, "app")
    message = caught.value.message
    assert message.startswith("no version of shared satisfies every constraint")
    assert ">=2 (from requested -> app 1.0.0 -> left 1.0.0)" in message
    assert "<2 (from requested -> app 1.0.0 -> right 1.0.0)" in message
    assert message.endswith("available: 1.0.0, 2.0.0")


async def test_a_constraint_met_later_chooses_an_earlier_package_again() -> None:
    # c 2.0 is chosen at level 1; b -> d -> c<2 arrives at level 2, so c is chosen again (1.0),
    # and its own dependency e, which 2.0 did not have, is walked too.
    graph: Graph = {
        "a": {"1.0.0": ["c"]},
        "b": {"1.0.0": ["d"]},
        "d": {"1.0.0": ["c:<2"]},
        "c": {"1.0.0": ["e"], "2.0.0": []},
        "e": {"1.0.0": []},
    }
    resolution = await resolve(graph, "a", "b")
    assert chosen(resolution) == {
        "a": "1.0.0",
        "b": "1.0.0",
        "c": "1.0.0",
        "d": "1.0.0",
        "e": "1.0.0",
    }
    assert resolution.rounds == 2


async def test_a_parent_gives_way_when_its_constraint_cannot_be_met() -> None:
    # http 2.0 needs utils>=2 but models needs utils<2: the resolver backjumps to http 1.0.
    graph: Graph = {
        "app": {"1.0.0": ["models", "http"]},
        "http": {"1.0.0": ["utils"], "2.0.0": ["utils:>=2"]},
        "models": {"1.0.0": ["utils:<2"]},
        "utils": {"1.0.0": [], "2.0.0": []},
    }
    resolution = await resolve(graph, "app")
    assert chosen(resolution) == {
        "app": "1.0.0",
        "models": "1.0.0",
        "http": "1.0.0",
        "utils": "1.0.0",
    }
    assert resolution.rounds > 1


async def test_no_parent_to_set_aside_ends_in_the_conflict() -> None:
    graph: Graph = {
        "app": {"1.0.0": ["http", "models"]},
        "http": {"2.0.0": ["utils:>=2"]},
        "models": {"1.0.0": ["utils:<2"]},
        "utils": {"1.0.0": [], "2.0.0": []},
    }
    with pytest.raises(ResolutionError, match="no version of utils satisfies every constraint"):
        await resolve(graph, "app")


PRE: Graph = {"p": {"1.0.0": [], "2.0.0rc1": []}, "q": {"1.0.0b1": []}}


@pytest.mark.parametrize(
    ("root", "options", "version"),
    [
        ("p", {}, "1.0.0"),
        ("p", {"pre": True}, "2.0.0rc1"),
        ("p:>=2.0.0rc1", {}, "2.0.0rc1"),  # a constraint naming a prerelease allows them
        ("q", {"pre": True}, "1.0.0b1"),
    ],
)
async def test_prereleases_only_when_asked(root: str, options: Options, version: str) -> None:
    resolution = await resolve(PRE, root, **options)
    assert [node.candidate.version for node in resolution.nodes.values()] == [version]


async def test_a_prerelease_is_taken_when_it_is_all_that_fits() -> None:
    """PEP 440 and pip: with no final release to choose, the prerelease that fits is chosen."""
    resolution = await resolve(PRE, "q")
    assert [node.candidate.version for node in resolution.nodes.values()] == [
        max(PRE["q"], key=Version)
    ]


LIBS: Graph = {"app": {"1.0.0": ["lib"]}, "lib": {"1.0.0": [], "1.5.0": [], "2.0.0": []}}


async def test_prefer_keeps_a_version_that_still_fits() -> None:
    resolution = await resolve(LIBS, "app", prefer={"lib": "1.5.0"})
    assert chosen(resolution)["lib"] == "1.5.0"


async def test_prefer_gives_way_to_a_constraint() -> None:
    resolution = await resolve(LIBS, "lib:>=2", prefer={"lib": "1.5.0"})
    assert chosen(resolution) == {"lib": "2.0.0"}
    missing = await resolve(LIBS, "app", prefer={"lib": "9.9.9"})
    assert chosen(missing)["lib"] == "2.0.0"


async def test_a_missing_package_names_who_required_it_and_where() -> None:
    graph: Graph = {"app": {"1.0.0": ["lib"]}, "lib": {"1.0.0": ["ghost"]}}
    with pytest.raises(NotFoundError) as caught:
        await resolve(graph, "app", where="s3://team/pipper")
    assert caught.value.message == (
        "package ghost was not found in s3://team/pipper "
        "(required by requested -> app 1.0.0 -> lib 1.0.0)"
    )
    with pytest.raises(NotFoundError, match=r"^package nothing was not found in the repository$"):
        await resolve(graph, "nothing")


async def test_names_match_across_pep503_spellings() -> None:
    graph: Graph = {"Alpha_Pkg": {"1.0.0": ["beta.pkg"]}, "Beta-Pkg": {"1.0.0": []}}
    resolution = await resolve(graph, "ALPHA.PKG")
    assert list(resolution.nodes) == ["alpha-pkg", "beta-pkg"]
    assert chosen(resolution) == {"Alpha_Pkg": "1.0.0", "Beta-Pkg": "1.0.0"}


async def test_a_graph_that_never_settles_is_given_up_on() -> None:
    graph: Graph = {
        "a": {"1.0.0": ["c"]},
        "b": {"1.0.0": ["d"]},
        "d": {"1.0.0": ["c:<2"]},
        "c": {"1.0.0": [], "2.0.0": []},
    }
    with pytest.raises(ResolutionError, match="did not settle after 1 rounds"):
        await resolve(graph, "a", "b", max_rounds=1)
