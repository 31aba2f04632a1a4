"""The nouns every layer shares: a published version, a fetched bundle, a resolved package, the
result of a run and the events a run reports.

They live here, apart from the code that makes them, so the resolver, the run, the installer and
the command line can all speak of a ``Candidate`` or a ``Package`` without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict

from packaging.version import Version

from pipper.versions import normalize_name

if TYPE_CHECKING:
    from pipper.bundle import BundleMeta
    from pipper.requirements import PublicRequirement
    from pipper.storage.base import ObjectInfo

__all__ = [
    "Candidate",
    "Counters",
    "Fetched",
    "LocalSource",
    "Package",
    "Progress",
    "PublicPackage",
    "RunResult",
    "Source",
    "WheelObject",
]

Source = Literal["cache", "network", "local"]
"""Where a bundle of a run came from."""


@dataclass(frozen=True)
class WheelObject:
    """One wheel of a version, as a bundle object: the ``.pipper`` one or a further variant.

    ``tag_part`` (``cp311-cp311-manylinux_2_17_x86_64``) is known from the key for variants and
    for a ``.pipper`` bundle with a tags marker; ``None`` for a ``.pipper`` bundle without one
    (a pure wheel, or one the original published), which is taken to fit every target.
    """

    key: str
    size: int
    etag: str
    tag_part: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class Candidate:
    """One published version of one package: what the resolver chooses between.

    ``key`` is the bundle a run fetches: the version's ``.pipper`` bundle as listed, or, once a
    wheel is chosen for the target (``pipper.platforms``), that wheel's bundle. ``wheels`` lists
    every wheel of the version (empty where only one is known, such as a local file).
    """

    name: str
    version: str
    key: str
    size: int
    etag: str
    last_modified: datetime | None = None
    yank: ObjectInfo | None = field(default=None, compare=False, repr=False)
    """The yank marker beside the bundle, when the version is yanked (see ``pipper.releases``)."""
    tag_part: str | None = field(default=None, compare=False)
    """The wheel tags of the bundle at ``key``, when known without opening it."""
    wheels: tuple[WheelObject, ...] = field(default=(), compare=False, repr=False)
    parsed: Version = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", Version(self.version))

    @property
    def yanked(self) -> bool:
        return self.yank is not None

    @property
    def project(self) -> str:
        """The PEP 503 name, which identifies the package across spellings."""
        return normalize_name(self.name)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class Fetched:
    """A bundle in the cache (or a local file), checked, with its ``package.meta``."""

    candidate: Candidate
    digest: str
    path: Path
    source: Source
    meta: BundleMeta
    wheel: Path | None = None
    """Its wheel, extracted into the cache for the installer (``install`` runs only)."""


@dataclass(frozen=True)
class Package:
    """A resolved package with its bundle in the cache.

    ``source`` is ``"installed"`` for a package the target environment already has at the chosen
    version: its dependencies were read from the object's metadata and its body never fetched,
    so ``path`` and ``meta`` are ``None``; so are they for a bundle a plan (``Run.plan``) learnt
    from its object metadata alone, whose ``source`` is ``"network"``: it is not in the cache.
    """

    candidate: Candidate
    digest: str
    path: Path | None
    source: Source | Literal["installed"]
    meta: BundleMeta | None
    dependencies: tuple[str, ...]
    required_by: tuple[str | None, ...]
    wheel: Path | None = None
    """Its wheel, already extracted into the cache while the run went on (``install``)."""

    @property
    def name(self) -> str:
        return self.candidate.name

    @property
    def version(self) -> str:
        return self.candidate.version

    @property
    def project(self) -> str:
        return self.candidate.project

    @property
    def filename(self) -> str:
        """``<name>-<safe_version>.pipper`` from the key's own file name, so one bundle has one
        name (``<name>-<safe_version>.<wheel tags>.pipper`` for a further wheel)."""
        from pipper.keys import local_filename

        return local_filename(self.candidate.name, self.candidate.key, self.candidate.tag_part)


@dataclass(frozen=True)
class PublicPackage:
    """A public wheel of the graph, chosen by pip from the index, with its blob in the cache.

    ``url`` is where it came from, without credentials; ``path`` is ``None`` only in a plan
    that did not fetch (``install --dry-run`` may still have fetched it).
    """

    name: str
    version: str
    filename: str
    sha256: str
    url: str
    path: Path | None
    source: Source
    required_by: tuple[str | None, ...] = ()
    dependencies: tuple[str, ...] = ()

    @property
    def project(self) -> str:
        return normalize_name(self.name)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Counters(TypedDict):
    """What a run counts of its requests, for ``RunResult``."""

    requests: int
    retries: int
    bytes_fetched: int


@dataclass
class RunResult:
    """What a run resolved and fetched, with the figures ``--json`` and the summary line show."""

    packages: dict[str, Package]
    rounds: int = 0
    depth: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    listings: int = 0
    retries: int = 0
    bytes_fetched: int = 0
    #: Where the packages were read from (``Repository.describe()``, bundle folders, URLs), so
    #: every line that reports a read can name it.
    source: str = ""
    requirements: tuple[PublicRequirement, ...] = ()
    """The graph's public requirements and who required them (the private packages' own
    requirements the repository does not hold, and ``pypi`` entries)."""
    more_wheels: tuple[Package, ...] = ()
    """The other wheels of the chosen versions, with ``--all-platforms``."""
    public: dict[str, PublicPackage] = field(default_factory=dict)
    """The public closure pip chose for them, keyed by PEP 503 name; empty with
    ``--private-only``, where ``requirements`` go to the installer as they are."""

    @property
    def from_network(self) -> int:
        return sum(1 for p in self.packages.values() if p.source == "network")


class Progress:
    """Receives events of a run; the command line draws them, the default ignores them."""

    def queued(self, candidate: Candidate) -> None:
        """One more package the run will bring in (so a display knows the total so far)."""

    def package(self, candidate: Candidate, source: str) -> None: ...

    def bytes(self, count: int) -> None: ...

    def total(self, packages: int) -> None: ...


class LocalSource(Protocol):
    """Bundles on disk that take precedence over the repository (``install --from DIR``)."""

    def has(self, project: str) -> bool: ...

    def versions(self, project: str) -> list[Candidate]: ...

    def path(self, candidate: Candidate) -> Path: ...

    def describe(self) -> str: ...
