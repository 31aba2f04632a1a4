"""The resolved graph as a tree: what ``pipper tree`` prints, as lines or as JSON.

A ``TreeGraph`` is the graph with its edges pointing down (who requires whom), made from a run's
``RunResult`` or straight from a lock file; ``TreeGraph.inverted`` turns the edges round for
``--invert``. ``walk`` makes the branches to show: every package in full once, at its first place
in a depth-first walk, and as a back-reference (``(*)``) everywhere else, so a diamond or a cycle
is shown once and the output stays proportional to the graph. ``render`` and ``to_json`` only
draw branches. Nothing here does I/O: the command line gathers the graph and prints the lines,
so the exact output can be checked line by line without a server.

Children and roots are sorted by PEP 503 name, so a tree drawn from a lock is the tree drawn
from the resolution that wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipper.errors import NotFoundError, PipperError
from pipper.keys import printable
from pipper.versions import normalize_name

if TYPE_CHECKING:
    from pipper.lock import Lock
    from pipper.models import PublicPackage, RunResult

__all__ = ["REPEATED_NOTE", "Branch", "Node", "TreeGraph", "render", "summary", "to_json", "walk"]

REPEATED_NOTE = "(*) shown above, with its dependencies"

_BOLD, _DIM, _CYAN, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[36m", "\x1b[0m"


@dataclass(frozen=True)
class Node:
    """One package of the tree, with what the tree says of it.

    ``version`` is ``None`` for a public requirement no one resolved (``--private-only``: the
    installer gets it as it is); ``source`` is where the bundle or wheel comes from (``cache``,
    ``network``), ``size`` its bytes when known.
    """

    key: str
    name: str
    version: str | None
    public: bool = False
    source: str | None = None
    size: int | None = None
    requested: bool = False

    @property
    def label(self) -> str:
        return self.name if self.version is None else f"{self.name} {self.version}"


@dataclass(frozen=True)
class TreeGraph:
    """Nodes by key, each node's children (sorted), and the roots (the requested packages)."""

    nodes: Mapping[str, Node]
    children: Mapping[str, tuple[str, ...]]
    roots: tuple[str, ...]
    inverse: bool = False
    """Edges point from a package to those that require it (``--invert``)."""

    @classmethod
    def of_result(
        cls,
        result: RunResult,
        *,
        size_of: Callable[[PublicPackage], int | None] = lambda _: None,
    ) -> TreeGraph:
        """The graph a run resolved; ``size_of`` gives a public wheel's size (its file's)."""
        nodes: dict[str, Node] = {}
        down: dict[str, list[str]] = {}
        for key, package in result.packages.items():
            nodes[key] = Node(
                key,
                package.name,
                package.version,
                source=package.source,
                size=package.candidate.size,
                requested=None in package.required_by,
            )
            down[key] = list(package.dependencies)
        public_parents: dict[str, Sequence[str | None]] = {}
        for key, wheel in result.public.items():
            nodes[key] = Node(
                key,
                wheel.name,
                wheel.version,
                public=True,
                source=wheel.source,
                size=size_of(wheel),
                requested=None in wheel.required_by or not wheel.required_by,
            )
            down[key] = list(wheel.dependencies)
            public_parents[key] = wheel.required_by
        if not result.public:  # --private-only: the requirements go to the installer as written
            for need in result.requirements:
                key = need.name if need.name not in nodes else f"{need.name} {need.requirement}"
                nodes[key] = Node(
                    key, need.requirement, None, public=True, requested=need.required_by is None
                )
                public_parents[key] = (need.required_by,)
        return cls._assemble(nodes, down, public_parents)

    @classmethod
    def of_lock(
        cls, lock: Lock, *, cached: Callable[[str], int | None], private_only: bool = False
    ) -> TreeGraph:
        """The graph a lock file records; ``cached(sha256)`` is the size of the cache's blob of
        that digest, or ``None`` when the cache lacks it (then it comes from the network)."""
        from pipper.specs import parse_package_ids

        requested: set[str] = set()
        for text in lock.requested:
            try:
                requested.update(p.key for p in parse_package_ids([text]))
            except PipperError:  # a lock names what was asked as it was typed; skip a stray one
                continue
        nodes: dict[str, Node] = {}
        down: dict[str, list[str]] = {}
        for package in lock.packages:
            key = package.project
            there = cached(package.sha256) is not None
            nodes[key] = Node(
                key,
                package.name,
                package.version,
                source="cache" if there else "network",
                size=package.size,
                requested=key in requested or not package.required_by,
            )
            down[key] = [normalize_name(d) for d in package.dependencies]
        public_parents: dict[str, Sequence[str | None]] = {}
        for wheel in () if private_only else lock.public:
            size = cached(wheel.sha256)
            key = wheel.project
            nodes[key] = Node(
                key,
                wheel.name,
                wheel.version,
                public=True,
                source="network" if size is None else "cache",
                size=size,
                requested=not wheel.required_by,
            )
            down[key] = list(wheel.dependencies)
            public_parents[key] = wheel.required_by
        return cls._assemble(nodes, down, public_parents)

    @classmethod
    def _assemble(
        cls,
        nodes: Mapping[str, Node],
        down: Mapping[str, Iterable[str]],
        public_parents: Mapping[str, Sequence[str | None]],
    ) -> TreeGraph:
        """Edges from the private packages' own dependencies, plus one from every parent a
        public package names (``"Name Version"`` strings, ``None`` for the user)."""
        children: dict[str, set[str]] = {
            key: {d for d in down.get(key, ()) if d in nodes and d != key} for key in nodes
        }
        for key, parents in public_parents.items():
            for parent in parents:
                found = _parent_key(parent)
                if found is not None and found in nodes and found != key:
                    children[found].add(key)
        return cls(
            nodes=dict(nodes),
            children={key: tuple(sorted(kids)) for key, kids in children.items()},
            roots=tuple(sorted(key for key, node in nodes.items() if node.requested)),
        )

    def inverted(self, name: str) -> TreeGraph:
        """The tree of who requires ``name``: it is the one root, its children the packages
        that require it, and so on up to what was requested."""
        target = normalize_name(name)
        if target not in self.nodes:
            raise NotFoundError(
                f"{name} is not in the graph ({len(self.nodes)} packages); 'pipper tree' with "
                "the same ids shows them all"
            )
        up: dict[str, list[str]] = {key: [] for key in self.nodes}
        for parent, kids in self.children.items():
            for kid in kids:
                up[kid].append(parent)
        return TreeGraph(
            nodes=self.nodes,
            children={key: tuple(sorted(parents)) for key, parents in up.items()},
            roots=(target,),
            inverse=True,
        )


def _parent_key(parent: str | None) -> str | None:
    """``"Name 1.0"`` (how a run names who required a public package) as a key."""
    if parent is None:
        return None
    return normalize_name(parent.rsplit(" ", 1)[0] if " " in parent else parent)


@dataclass
class Branch:
    """One place a package is shown: in full (with ``children``), as a back-reference to its
    place above (``repeated``), or with its children left out by ``--depth`` (``cut``)."""

    node: Node
    repeated: bool = False
    cut: bool = False
    children: list[Branch] = field(default_factory=list)


def walk(graph: TreeGraph, *, depth: int | None = None) -> list[Branch]:
    """The branches to show, depth first; ``depth`` is the number of levels shown below the
    roots (``None``: all). A package is shown in full at its first place only; a place cut
    by ``depth`` does not count as shown, so a later, shallower place shows it in full."""
    shown: set[str] = set()
    trees: list[Branch] = []
    # Iterative, so a graph thousands of levels deep cannot exhaust Python's stack.
    stack: list[tuple[str, int, list[Branch]]] = [(key, 0, trees) for key in graph.roots][::-1]
    while stack:
        key, level, siblings = stack.pop()
        node = graph.nodes[key]
        kids = graph.children.get(key, ())
        if key in shown:
            siblings.append(Branch(node, repeated=True))
            continue
        if depth is not None and level >= depth and kids:
            siblings.append(Branch(node, cut=True))
            continue
        shown.add(key)
        branch = Branch(node)
        siblings.append(branch)
        stack.extend((kid, level + 1, branch.children) for kid in reversed(kids))
    return trees


def render(
    trees: Sequence[Branch],
    *,
    size: Callable[[int], str],
    color: bool = False,
    mark_requested: bool = False,
) -> list[str]:
    """The lines of ``trees``, drawn with box characters as ``uv tree`` draws them, and a note
    on ``(*)`` when a back-reference was drawn. ``size`` spells a byte count (``1.2 MB``);
    ``mark_requested`` adds ``requested`` where a chain ends (``--invert``)."""
    lines: list[str] = []
    stack: list[tuple[Branch, str, str]] = [(tree, "", "") for tree in reversed(trees)]
    repeated = False
    while stack:
        branch, lead, rest = stack.pop()
        repeated = repeated or branch.repeated
        lines.append(lead + _label(branch, size, color, mark_requested))
        kids = branch.children
        for index in reversed(range(len(kids))):
            last = index == len(kids) - 1
            elbow, bar = ("└── ", "    ") if last else ("├── ", "│   ")
            stack.append((kids[index], rest + elbow, rest + bar))
    if repeated:
        lines.append(_paint(REPEATED_NOTE, _DIM, color))
    return lines


def _label(branch: Branch, size: Callable[[int], str], color: bool, mark_requested: bool) -> str:
    node = branch.node
    name = _paint(printable(node.name), _BOLD, color)
    text = name if node.version is None else f"{name} {printable(node.version)}"
    if branch.repeated:
        return f"{text} {_paint('(*)', _DIM, color)}"
    notes = []
    if node.public:
        notes.append(_paint("public", _CYAN, color))
    if mark_requested and node.requested:
        notes.append("requested")
    if node.version is None:
        notes.append("left to the installer")
    if node.source is not None:
        notes.append(node.source)
    if node.size is not None:
        notes.append(size(node.size))
    return f"{text} ({', '.join(notes)})" if notes else text


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{_RESET}" if color else text


def to_json(trees: Sequence[Branch], *, inverse: bool = False) -> list[dict[str, Any]]:
    """The branches as JSON: each package with its ``dependencies`` (``required_by`` for an
    inverted tree); a back-reference has ``shown_above`` and no children, a place cut by
    ``--depth`` has ``truncated``."""
    edge = "required_by" if inverse else "dependencies"

    def one(branch: Branch) -> dict[str, Any]:
        node = branch.node
        data: dict[str, Any] = {
            "name": node.name,
            "version": node.version,
            "public": node.public,
            "requested": node.requested,
            "source": node.source,
            "size": node.size,
        }
        if branch.repeated:
            data["shown_above"] = True
        elif branch.cut:
            data["truncated"] = True
        else:
            data[edge] = [one(kid) for kid in branch.children]
        return data

    return [one(tree) for tree in trees]


def summary(graph: TreeGraph, size: Callable[[int], str]) -> str:
    """``12 packages (3 public): 9 in the cache, 3 from the network (1.2 MB)``."""
    nodes = [n for n in graph.nodes.values() if n.version is not None]
    public = sum(n.public for n in nodes)
    away = [n for n in nodes if n.source == "network"]
    known = sum(n.size or 0 for n in away)
    unknown = any(n.size is None for n in away)
    weight = f" ({size(known)}{' and more' if unknown else ''})" if away else ""
    return (
        f"{len(nodes)} package{'' if len(nodes) == 1 else 's'}"
        + (f" ({public} public)" if public else "")
        + f": {sum(n.source == 'cache' for n in nodes)} in the cache, {len(away)} from the "
        f"network{weight}"
    )
