"""``pipper.tree`` on hand-made graphs: the exact lines of a diamond, a cycle, a deep graph, the
inverted tree, ``--depth``, JSON, colour, public packages and a lock's graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pipper.cli.output import human_size
from pipper.errors import NotFoundError
from pipper.lock import lock_from_packages
from pipper.models import Candidate, Package, PublicPackage, RunResult
from pipper.repositories import Repository
from pipper.requirements import PublicRequirement
from pipper.specs import parse_package_ids
from pipper.tree import REPEATED_NOTE, TreeGraph, render, summary, to_json, walk

# name -> (version, dependencies); the requested ones are listed in ``roots``.
Spec = Mapping[str, tuple[str, Sequence[str]]]


def result_of(
    spec: Spec, roots: Sequence[str], *, cached: Sequence[str] = (), size: int = 1500
) -> RunResult:
    """A run's result for ``spec``, as the resolver would key it: ``required_by`` from the
    edges, ``None`` for the roots; every bundle ``size`` bytes, from the network unless
    ``cached``."""
    parents: dict[str, list[str | None]] = {name: [] for name in spec}
    for root in roots:
        parents[root].append(None)
    for name, (_, deps) in spec.items():
        for dep in deps:
            parents[dep].append(name)
    packages: dict[str, Package] = {}
    for name, (version, deps) in spec.items():
        candidate = Candidate(name, version, f"pipper/{name}/v{version}.pipper", size, "etag")
        packages[name] = Package(
            candidate=candidate,
            digest=f"{len(packages):064x}",
            path=None,
            source="cache" if name in cached else "network",
            meta=None,
            dependencies=tuple(deps),
            required_by=tuple(parents[name]),
        )
    return RunResult(packages=packages)


def lines_of(result: RunResult, *, depth: int | None = None, invert: str | None = None) -> str:
    graph = TreeGraph.of_result(result)
    if invert is not None:
        graph = graph.inverted(invert)
    drawn = render(walk(graph, depth=depth), size=human_size, mark_requested=graph.inverse)
    return "\n".join(drawn)


DIAMOND: Spec = {
    "top": ("1.0.0", ["left", "right"]),
    "left": ("1.0.0", ["base"]),
    "right": ("1.0.0", ["base"]),
    "base": ("2.0.0", []),
}


def test_a_diamond_shows_the_shared_package_once() -> None:
    assert lines_of(result_of(DIAMOND, ["top"], cached=["left"])).splitlines() == [
        "top 1.0.0 (network, 1.5 KB)",
        "├── left 1.0.0 (cache, 1.5 KB)",
        "│   └── base 2.0.0 (network, 1.5 KB)",
        "└── right 1.0.0 (network, 1.5 KB)",
        "    └── base 2.0.0 (*)",
        REPEATED_NOTE,
    ]


def test_a_cycle_ends_in_a_back_reference() -> None:
    spec: Spec = {
        "a": ("1.0.0", ["b"]),
        "b": ("1.0.0", ["c"]),
        "c": ("1.0.0", ["a", "d"]),
        "d": ("0.1.0", []),
    }
    assert lines_of(result_of(spec, ["a"])).splitlines() == [
        "a 1.0.0 (network, 1.5 KB)",
        "└── b 1.0.0 (network, 1.5 KB)",
        "    └── c 1.0.0 (network, 1.5 KB)",
        "        ├── a 1.0.0 (*)",
        "        └── d 0.1.0 (network, 1.5 KB)",
        REPEATED_NOTE,
    ]


DEEP: Spec = {
    "app": ("3.0.0", ["web", "worker"]),
    "web": ("2.1.0", ["http", "models"]),
    "worker": ("1.4.0", ["models", "queue"]),
    "http": ("1.0.0", ["utils"]),
    "models": ("5.0.0", ["db", "utils"]),
    "queue": ("0.9.0", ["utils"]),
    "db": ("2.0.0", ["driver"]),
    "driver": ("1.1.0", ["utils"]),
    "utils": ("4.2.0", []),
}


def test_a_deep_graph_is_drawn_depth_first_in_name_order() -> None:
    assert lines_of(result_of(DEEP, ["app"], cached=["utils", "db"])).splitlines() == [
        "app 3.0.0 (network, 1.5 KB)",
        "├── web 2.1.0 (network, 1.5 KB)",
        "│   ├── http 1.0.0 (network, 1.5 KB)",
        "│   │   └── utils 4.2.0 (cache, 1.5 KB)",
        "│   └── models 5.0.0 (network, 1.5 KB)",
        "│       ├── db 2.0.0 (cache, 1.5 KB)",
        "│       │   └── driver 1.1.0 (network, 1.5 KB)",
        "│       │       └── utils 4.2.0 (*)",
        "│       └── utils 4.2.0 (*)",
        "└── worker 1.4.0 (network, 1.5 KB)",
        "    ├── models 5.0.0 (*)",
        "    └── queue 0.9.0 (network, 1.5 KB)",
        "        └── utils 4.2.0 (*)",
        REPEATED_NOTE,
    ]


def test_several_roots_and_a_root_that_is_also_a_dependency() -> None:
    spec: Spec = {"b": ("1.0", ["a"]), "a": ("1.0", []), "c": ("2.0", [])}
    assert lines_of(result_of(spec, ["b", "c", "a"])).splitlines() == [
        "a 1.0 (network, 1.5 KB)",
        "b 1.0 (network, 1.5 KB)",
        "└── a 1.0 (*)",
        "c 2.0 (network, 1.5 KB)",
        REPEATED_NOTE,
    ]


def test_no_note_when_nothing_repeats() -> None:
    spec: Spec = {"a": ("1.0", ["b"]), "b": ("1.0", [])}
    assert lines_of(result_of(spec, ["a"])).splitlines() == [
        "a 1.0 (network, 1.5 KB)",
        "└── b 1.0 (network, 1.5 KB)",
    ]


def test_invert_shows_both_chains_that_reach_a_package() -> None:
    # utils is reached through http (web) and through models (web and worker) and queue.
    assert lines_of(result_of(DEEP, ["app"]), invert="Utils").splitlines() == [
        "utils 4.2.0 (network, 1.5 KB)",
        "├── driver 1.1.0 (network, 1.5 KB)",
        "│   └── db 2.0.0 (network, 1.5 KB)",
        "│       └── models 5.0.0 (network, 1.5 KB)",
        "│           ├── web 2.1.0 (network, 1.5 KB)",
        "│           │   └── app 3.0.0 (requested, network, 1.5 KB)",
        "│           └── worker 1.4.0 (network, 1.5 KB)",
        "│               └── app 3.0.0 (*)",
        "├── http 1.0.0 (network, 1.5 KB)",
        "│   └── web 2.1.0 (*)",
        "├── models 5.0.0 (*)",
        "└── queue 0.9.0 (network, 1.5 KB)",
        "    └── worker 1.4.0 (*)",
        REPEATED_NOTE,
    ]


def test_invert_on_a_diamond() -> None:
    assert lines_of(result_of(DIAMOND, ["top"]), invert="base").splitlines() == [
        "base 2.0.0 (network, 1.5 KB)",
        "├── left 1.0.0 (network, 1.5 KB)",
        "│   └── top 1.0.0 (requested, network, 1.5 KB)",
        "└── right 1.0.0 (network, 1.5 KB)",
        "    └── top 1.0.0 (*)",
        REPEATED_NOTE,
    ]


def test_invert_of_a_name_not_in_the_graph_says_so() -> None:
    with pytest.raises(NotFoundError, match=r"^nope is not in the graph \(4 packages\)"):
        TreeGraph.of_result(result_of(DIAMOND, ["top"])).inverted("nope")


def test_depth_cuts_the_tree_and_a_cut_place_does_not_count_as_shown() -> None:
    spec: Spec = {
        "a": ("1", ["b", "z"]),
        "b": ("1", ["c"]),
        "c": ("1", ["d"]),
        "d": ("1", []),
        "z": ("1", ["c"]),
    }
    result = result_of(spec, ["a"], size=10)
    assert lines_of(result, depth=0).splitlines() == ["a 1 (network, 10 B)"]
    # c is cut under b (level 2), so its first full place is under z... which is cut too.
    assert lines_of(result, depth=2).splitlines() == [
        "a 1 (network, 10 B)",
        "├── b 1 (network, 10 B)",
        "│   └── c 1 (network, 10 B)",
        "└── z 1 (network, 10 B)",
        "    └── c 1 (network, 10 B)",
    ]
    assert lines_of(result, depth=3).splitlines() == [
        "a 1 (network, 10 B)",
        "├── b 1 (network, 10 B)",
        "│   └── c 1 (network, 10 B)",
        "│       └── d 1 (network, 10 B)",
        "└── z 1 (network, 10 B)",
        "    └── c 1 (*)",
        REPEATED_NOTE,
    ]


def test_a_graph_thousands_of_levels_deep_is_drawn() -> None:
    count = 3000
    spec: Spec = {f"p{i}": ("1", [f"p{i + 1}"] if i + 1 < count else []) for i in range(count)}
    lines = lines_of(result_of(spec, ["p0"]))
    assert len(lines.splitlines()) == count
    assert lines.splitlines()[-1] == " " * 4 * (count - 2) + "└── p2999 1 (network, 1.5 KB)"


def test_json_nests_dependencies_and_marks_back_references() -> None:
    trees = walk(TreeGraph.of_result(result_of(DIAMOND, ["top"])), depth=None)
    data = to_json(trees)
    assert [d["name"] for d in data] == ["top"]
    left, right = data[0]["dependencies"]
    assert left["dependencies"] == [
        {
            "name": "base",
            "version": "2.0.0",
            "public": False,
            "requested": False,
            "source": "network",
            "size": 1500,
            "dependencies": [],
        }
    ]
    assert right["dependencies"][0]["shown_above"] is True
    assert "dependencies" not in right["dependencies"][0]
    cut = to_json(walk(TreeGraph.of_result(result_of(DIAMOND, ["top"])), depth=1))
    assert [d.get("truncated") for d in cut[0]["dependencies"]] == [True, True]
    inverted = TreeGraph.of_result(result_of(DIAMOND, ["top"])).inverted("base")
    up = to_json(walk(inverted), inverse=True)
    assert [p["name"] for p in up[0]["required_by"]] == ["left", "right"]


def test_colour_only_when_asked() -> None:
    trees = walk(TreeGraph.of_result(result_of(DIAMOND, ["top"])))
    plain = render(trees, size=human_size)
    painted = render(trees, size=human_size, color=True)
    assert not any("\x1b" in line for line in plain)
    assert painted[0] == "\x1b[1mtop\x1b[0m 1.0.0 (network, 1.5 KB)"
    assert painted[4] == "    └── \x1b[1mbase\x1b[0m 2.0.0 \x1b[2m(*)\x1b[0m"


def test_a_name_with_control_characters_is_escaped() -> None:
    spec: Spec = {"a": ("1", [])}
    result = result_of(spec, ["a"])
    package = result.packages["a"]
    odd = Candidate("a\x1b[2J", "1", "pipper/a/v1.pipper", 1, "e")
    result.packages["a"] = Package(odd, "", None, "network", None, (), (None,))
    assert package.required_by == (None,)
    assert lines_of(result) == "a\\x1b[2J 1 (network, 1 B)"


def public_result() -> RunResult:
    """app -> lib (private); lib needs pubdep, app needs pubtop, pubtop needs pubdep; the user
    asked for rich too (a ``pypi`` entry)."""
    result = result_of({"app": ("1.0.0", ["lib"]), "lib": ("1.0.0", [])}, ["app"], cached=["app"])

    def wheel(
        name: str, version: str, by: tuple[str | None, ...], deps: tuple[str, ...] = ()
    ) -> PublicPackage:
        return PublicPackage(
            name=name,
            version=version,
            filename=f"{name}-{version}-py3-none-any.whl",
            sha256=name[0] * 64,
            url=f"https://index.example/{name}.whl",
            path=Path(f"/cache/{name}") if name != "PubDep" else None,
            source="cache" if name != "PubDep" else "network",
            required_by=by,
            dependencies=deps,
        )

    result.public = {
        "pubtop": wheel("pubtop", "3.0.0", ("app 1.0.0",), ("pubdep",)),
        "pubdep": wheel("PubDep", "1.5.0", ("lib 1.0.0", "pubtop 3.0.0")),
        "rich": wheel("rich", "13.0.0", (None,)),
    }
    return result


def test_public_packages_are_marked_and_hang_under_who_required_them() -> None:
    sizes = {"pubtop": 2_000_000, "rich": 400}
    graph = TreeGraph.of_result(
        public_result(), size_of=lambda w: sizes.get(w.name) if w.path else None
    )
    assert render(walk(graph), size=human_size) == [
        "app 1.0.0 (cache, 1.5 KB)",
        "├── lib 1.0.0 (network, 1.5 KB)",
        "│   └── PubDep 1.5.0 (public, network)",
        "└── pubtop 3.0.0 (public, cache, 2.0 MB)",
        "    └── PubDep 1.5.0 (*)",
        "rich 13.0.0 (public, cache, 400 B)",
        REPEATED_NOTE,
    ]
    assert summary(graph, human_size) == (
        "5 packages (3 public): 3 in the cache, 2 from the network (1.5 KB and more)"
    )


def test_private_only_requirements_are_left_to_the_installer() -> None:
    result = result_of({"app": ("1.0.0", [])}, ["app"], cached=["app"])
    result.requirements = (PublicRequirement("rich>=13"),)
    lines = render(walk(TreeGraph.of_result(result)), size=human_size)
    assert lines == ["app 1.0.0 (cache, 1.5 KB)", "rich>=13 (public, left to the installer)"]
    assert summary(TreeGraph.of_result(result), human_size) == (
        "1 package: 1 in the cache, 0 from the network"
    )
    inverted = TreeGraph.of_result(result).inverted("Rich")
    assert render(walk(inverted), size=human_size, mark_requested=True) == [
        "rich>=13 (public, requested, left to the installer)"
    ]


def test_a_lock_gives_the_tree_its_resolution_gave() -> None:
    result = public_result()
    lock = lock_from_packages(
        result.packages,
        Repository(bucket="bucket"),
        parse_package_ids(["app"]),
        public=list(result.public.values()),
    )
    sources = {p.digest: p.source for p in result.packages.values()}
    in_cache = {d for d, s in sources.items() if s == "cache"}
    in_cache |= {p.sha256 for p in result.public.values() if p.source == "cache"}
    sizes = {p.sha256: 7 for p in result.public.values()}
    from_lock = TreeGraph.of_lock(lock, cached=lambda d: sizes.get(d, 1) if d in in_cache else None)
    from_run = TreeGraph.of_result(result, size_of=lambda w: 7 if w.path else None)
    assert render(walk(from_lock), size=human_size) == render(walk(from_run), size=human_size)
    private = TreeGraph.of_lock(lock, cached=lambda d: None, private_only=True)
    assert render(walk(private), size=human_size) == [
        "app 1.0.0 (network, 1.5 KB)",
        "└── lib 1.0.0 (network, 1.5 KB)",
    ]
