"""PEP 440's prerelease rule, as pip applies it: a prerelease when it is all that fits.

The resolver is driven with plain callables over an in-memory graph (no server, milliseconds);
one test per repository kind then checks the same rule end to end through ``pipper download``.
The ``location``/``repo`` fixtures (a real S3 bucket, then a local directory) and ``resolve``
serve the yank and retention tests too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import anyio
import pytest

from pipper.errors import ResolutionError
from pipper.models import Candidate
from pipper.resolver import Resolution, Resolver
from pipper.specs import PackageId, parse_package_ids
from pipper.storage.base import ObjectInfo
from tests.lib.cli import cli, publish_graph

# name -> version -> dependencies
Graph = Mapping[str, Mapping[str, Sequence[str]]]


def resolve(
    graph: Graph, *ids: str, pre: bool = False, yanked: Collection[tuple[str, str]] = ()
) -> dict[str, str]:
    """The chosen version of every package of ``graph`` that ``ids`` lead to.

    ``yanked`` holds the (name, version) pairs that have a yank marker.
    """

    async def versions(name: str) -> list[Candidate]:
        found = [
            Candidate(
                name=name,
                version=v,
                key=f"pipper/{name}/{v}.pipper",
                size=1,
                etag=v,
                yank=ObjectInfo(f"pipper/{name}/{v}.yanked", 2, "y")
                if (name, v) in yanked
                else None,
            )
            for v in graph.get(name, {})
        ]
        return sorted(found, key=lambda c: c.parsed)  # oldest first, as the index lists them

    async def dependencies(candidate: Candidate) -> list[PackageId]:
        return parse_package_ids(graph[candidate.name][candidate.version])

    async def go() -> Resolution:
        return await Resolver(versions, dependencies, pre=pre).resolve(parse_package_ids(ids))

    resolution = anyio.run(go)
    return {key: node.candidate.version for key, node in resolution.nodes.items()}


def test_a_root_gets_its_only_version_when_that_is_a_prerelease() -> None:
    assert resolve({"a": {"1.0.0a1": []}}, "a") == {"a": "1.0.0a1"}


def test_the_newest_prerelease_when_only_prereleases_exist() -> None:
    assert resolve({"a": {"1.0.0a1": [], "1.0.0b2": [], "0.9.0rc1": []}}, "a") == {"a": "1.0.0b2"}


def test_a_final_release_wins_whenever_one_satisfies() -> None:
    graph: Graph = {"a": {"1.0.0": [], "2.0.0rc1": [], "0.5.0": []}}
    assert resolve(graph, "a") == {"a": "1.0.0"}
    # An older final release still beats a newer prerelease that the constraint allows too.
    assert resolve(graph, "a>=0.5") == {"a": "1.0.0"}
    # ... unless no final release satisfies the constraint: then the prerelease is accepted.
    assert resolve(graph, "a>1.0") == {"a": "2.0.0rc1"}


def test_the_boundary_of_a_less_than_excludes_that_versions_own_prereleases() -> None:
    graph: Graph = {"a": {"0.1.0a1": [], "0.2.0a1": [], "0.2.0": []}}
    # <0.2.0 excludes 0.2.0 and (PEP 440) 0.2.0a1 too: only 0.1.0a1 is below it.
    assert resolve(graph, "a<0.2.0") == {"a": "0.1.0a1"}
    assert resolve(graph, "a:<0.2.0") == {"a": "0.1.0a1"}
    # Naming a prerelease in the constraint allows every prerelease.
    assert resolve(graph, "a<0.2.0a2") == {"a": "0.2.0a1"}


def test_a_transitive_dependency_gets_a_prerelease_when_that_is_all_that_fits() -> None:
    graph: Graph = {
        "app": {"1.0.0": ["lib>1.5"]},
        "lib": {"1.0.0": [], "2.0.0b1": ["base"]},
        "base": {"0.1.0rc1": []},
    }
    assert resolve(graph, "app") == {"app": "1.0.0", "lib": "2.0.0b1", "base": "0.1.0rc1"}


def test_a_later_constraint_can_leave_only_a_prerelease() -> None:
    # The root picks lib 1.0.0 (a final release); a dependency met later needs lib>1, which
    # only 1.1.0rc1 satisfies: the resolver chooses again and accepts it.
    graph: Graph = {
        "root": {"1.0.0": ["lib", "other"]},
        "other": {"1.0.0": ["lib>1"]},
        "lib": {"1.0.0": [], "1.1.0rc1": []},
    }
    assert resolve(graph, "root") == {"root": "1.0.0", "other": "1.0.0", "lib": "1.1.0rc1"}


def test_pre_lets_prereleases_compete_with_final_releases() -> None:
    graph: Graph = {"a": {"1.0.0": [], "2.0.0rc1": []}}
    assert resolve(graph, "a", pre=True) == {"a": "2.0.0rc1"}
    assert resolve(graph, "a>=2.0.0rc1") == {"a": "2.0.0rc1"}
    # Excluding a prerelease is not asking for prereleases.
    assert resolve(graph, "a!=2.0.0rc1") == {"a": "1.0.0"}


def test_nothing_that_fits_is_still_an_error_without_a_pre_hint() -> None:
    graph: Graph = {"a": {"1.0.0rc1": [], "0.9.0": []}}
    with pytest.raises(ResolutionError) as caught:
        resolve(graph, "a>=1.0")  # 1.0.0rc1 < 1.0: nothing satisfies
    message = caught.value.message
    assert message == (
        "no version of a satisfies every constraint: >=1.0 (from requested); "
        "available: 0.9.0, 1.0.0rc1"
    )


def test_download_takes_a_prerelease_only_when_nothing_else_fits(
    tmp_path: Path, repo: list[str]
) -> None:
    graph: Graph = {
        "app": {"1.0.0": ["lib<0.2.0"]},
        "lib": {"0.1.0a1": [], "0.2.0a1": [], "0.2.0": []},
        "solo": {"1.0.0a1": []},
        "mixed": {"1.0.0": [], "1.1.0rc1": []},
    }
    publish_graph(tmp_path, repo, graph)
    out = str(tmp_path / "v")
    result = cli("download", "app", "solo", "mixed", "-d", out, "--json", *repo)
    assert result.exit_code == 0, result.stderr
    chosen = {p["name"]: p["version"] for p in result.json()["packages"]}
    assert chosen == {"app": "1.0.0", "lib": "0.1.0a1", "solo": "1.0.0a1", "mixed": "1.0.0"}
