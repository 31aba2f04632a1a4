"""The lock file: a resolved graph written down, so later runs fetch exactly those bytes.

A lock names, for every package, the object key and the sha256 of its bytes (and, in its
``public`` list, every public wheel of the graph: see :mod:`pipper.publiclock`). The sha256 is also
the cache's key, so a run from a lock (``Run.fetch_locked``) resolves nothing, one GET
per package missing from the cache, and none with a warm cache. The file is JSON with sorted keys,
packages sorted by name and no timestamp, so locking the same graph twice gives the same bytes and
a change shows up as a small diff. ``lock_version`` lets a later format be told apart.

The repository is recorded without secrets (the same description the cache uses), so a run from a
lock with no repository configured can still find the bucket, and a run against another bucket
can say so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion

from pipper.errors import ConfigError, UsageError
from pipper.fsutil import atomic_write_bytes, read_small_file
from pipper.jsonio import JsonError, parse_json
from pipper.keys import is_pure_wheel, parse_bundle_key
from pipper.locations import normalize_root_prefix
from pipper.platforms import TargetSpec, tags_of_wheel
from pipper.publiclock import LockedPublic, parse_public
from pipper.repositories import Repository
from pipper.specs import PackageId, validate_name
from pipper.versions import normalize_name, parse_version

if TYPE_CHECKING:
    from pipper.models import Package, PublicPackage

__all__ = [
    "DEFAULT_LOCK_FILE",
    "LOCK_VERSION",
    "Lock",
    "LockedPackage",
    "LockedRepository",
    "lock_from_packages",
    "read_lock",
    "write_lock",
]

LOCK_VERSION = 1
DEFAULT_LOCK_FILE = "pipper.lock"
MAX_LOCK_BYTES = 50 * 1024 * 1024
MAX_LOCKED_SIZE = 2**40
"""1 TiB: no bundle is bigger (a wheel is capped at 8 GiB); a larger size is a typo or a trap."""

_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)


@dataclass(frozen=True)
class LockedPackage:
    """One package of a lock; ``dependencies`` and ``required_by`` hold PEP 503 names."""

    name: str
    version: str
    key: str
    size: int
    sha256: str
    dependencies: tuple[str, ...] = ()
    required_by: tuple[str, ...] = ()
    wheel: str | None = None
    """The file name of the wheel the bundle holds (a version may hold several); None in
    locks written before platform wheels."""

    @property
    def project(self) -> str:
        return normalize_name(self.name)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
            "dependencies": sorted(self.dependencies),
            "required_by": sorted(self.required_by),
            **({"wheel": self.wheel} if self.wheel else {}),
        }


@dataclass(frozen=True)
class LockedRepository:
    """Where a lock's packages came from, as much as can be written down without a secret."""

    id: str
    root_prefix: str
    bucket: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    local_path: str | None = None

    @classmethod
    def of(cls, repository: Repository) -> LockedRepository:
        endpoint = repository.endpoint_url
        if endpoint is not None:
            # The id already holds the endpoint without user info; reuse that spelling.
            endpoint = repository.id.partition("?endpoint=")[2] or None
        return cls(
            id=repository.id,
            root_prefix=repository.root_prefix,
            bucket=repository.bucket,
            endpoint_url=endpoint,
            region=repository.region,
            local_path=str(repository.local_path) if repository.local_path else None,
        )

    def same_place(self, repository: Repository) -> bool:
        """Whether ``repository`` is this one, whichever endpoint URL reaches it."""
        return _place(self.id) == _place(repository.id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bucket": self.bucket,
            "root_prefix": self.root_prefix,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "local_path": self.local_path,
        }


def _place(repo_id: str) -> str:
    return repo_id.partition("?endpoint=")[0]


@dataclass(frozen=True)
class Lock:
    repository: LockedRepository
    packages: tuple[LockedPackage, ...]
    requested: tuple[str, ...] = ()
    public: tuple[LockedPublic, ...] = ()
    """The public wheels of the graph; empty in locks written before them (or private-only)."""
    target: str | None = None
    """The interpreter or platform the wheels were chosen for (``CPython 3.12 on ...``)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "packages", tuple(sorted(self.packages, key=lambda p: (p.project, p.version)))
        )
        object.__setattr__(self, "requested", tuple(sorted(set(self.requested))))
        object.__setattr__(self, "public", tuple(sorted(self.public, key=lambda p: p.project)))

    @property
    def by_project(self) -> dict[str, LockedPackage]:
        return {p.project: p for p in self.packages}

    def to_json(self) -> dict[str, Any]:
        return {
            "lock_version": LOCK_VERSION,
            "repository": self.repository.to_json(),
            "requested": list(self.requested),
            "packages": [p.to_json() for p in self.packages],
            "public": [p.to_json() for p in self.public],
            **({"target": self.target} if self.target else {}),
        }

    def dumps(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2) + "\n").encode()


def lock_from_packages(
    packages: Mapping[str, Package],
    repository: Repository,
    requested: Iterable[PackageId],
    *,
    public: Iterable[PublicPackage] = (),
    index_url: str | None = None,
    target: str | None = None,
) -> Lock:
    """The lock of a resolved graph (``RunResult.packages`` and ``RunResult.public``)."""
    locked = []
    for package in packages.values():
        if not package.digest:
            raise UsageError(f"{package.candidate} has no known sha256 and cannot be locked")
        locked.append(
            LockedPackage(
                name=package.candidate.name,
                version=package.candidate.version,
                key=package.candidate.key,
                size=package.candidate.size,
                sha256=package.digest,
                dependencies=tuple(dict.fromkeys(package.dependencies)),
                required_by=tuple(dict.fromkeys(r for r in package.required_by if r is not None)),
                wheel=package.meta.wheel_name if package.meta is not None else None,
            )
        )
    return Lock(
        target=target,
        repository=LockedRepository.of(repository),
        packages=tuple(locked),
        requested=tuple(str(r) for r in requested),
        public=tuple(LockedPublic.of(p, index_url) for p in public),
    )


def write_lock(lock: Lock, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lock.dumps(), mode=0o644)


# -- reading ---------------------------------------------------------------------------------


def read_lock(path: Path) -> Lock:
    """Read and check a lock file; every problem is a ``UsageError`` naming the file."""
    if not path.exists():
        raise UsageError(f"no such lock file: {path} (write one with 'pipper lock')")
    blob = read_small_file(path, MAX_LOCK_BYTES, "lock file")
    try:
        document = parse_json(blob)
    except JsonError as exc:
        raise UsageError(exc.at(path)) from None
    return _parse(path, document)


def _parse(path: Path, document: object) -> Lock:
    if not isinstance(document, dict):
        raise UsageError(f"{path}: not a lock file (the top level is not a mapping)")
    version = document.get("lock_version")
    if version != LOCK_VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > LOCK_VERSION:
            raise UsageError(
                f"{path}: lock_version {version} was written by a newer pipper; "
                f"this one reads version {LOCK_VERSION}"
            )
        raise UsageError(f"{path}: not a pipper lock file (lock_version {version!r})")
    repository = _repository(path, document.get("repository"))
    raw_packages = document.get("packages")
    if not isinstance(raw_packages, list):
        raise UsageError(f"{path}: 'packages' must be a list")
    packages = [
        _package(path, index, item, repository.root_prefix)
        for index, item in enumerate(raw_packages)
    ]
    requested = document.get("requested", [])
    if not isinstance(requested, list) or not all(isinstance(r, str) for r in requested):
        raise UsageError(f"{path}: 'requested' must be a list of strings")
    lock = Lock(
        repository=repository,
        packages=tuple(packages),
        requested=tuple(requested),
        public=parse_public(path, document.get("public")),
        target=_optional_str(path, "the lock", document, "target"),
    )
    _check_graph(path, lock.packages)
    for wheel in lock.public:
        if wheel.project in lock.by_project:
            raise UsageError(f"{path}: {wheel.name} is locked both as private and as public")
    return lock


def _field(path: Path, where: str, data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UsageError(f"{path}: {where}: '{key}' must be {_kind_name(kind)}")
    return value


def _optional_str(path: Path, where: str, data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{path}: {where}: '{key}' must be a string or null")
    return value


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "a whole number", list: "a list"}.get(kind, kind.__name__)


def _repository(path: Path, data: object) -> LockedRepository:
    if not isinstance(data, dict):
        raise UsageError(f"{path}: 'repository' must be a mapping")
    where = "repository"
    bucket = _optional_str(path, where, data, "bucket")
    local_path = _optional_str(path, where, data, "local_path")
    if (bucket is None) == (local_path is None):
        raise UsageError(f"{path}: repository: give exactly one of 'bucket' and 'local_path'")
    root_prefix = _field(path, where, data, "root_prefix", str)
    try:
        root_prefix = normalize_root_prefix(root_prefix, f"{path}: {where}: root_prefix")
    except ConfigError as exc:
        raise UsageError(exc.message) from None
    return LockedRepository(
        id=_field(path, where, data, "id", str),
        root_prefix=root_prefix,
        bucket=bucket,
        endpoint_url=_optional_str(path, where, data, "endpoint_url"),
        region=_optional_str(path, where, data, "region"),
        local_path=local_path,
    )


def _names(path: Path, where: str, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{path}: {where}: '{key}' must be a list of package names")
    return tuple(value)


def _package(path: Path, index: int, data: object, root_prefix: str) -> LockedPackage:
    where = f"packages[{index}]"
    if not isinstance(data, dict):
        raise UsageError(f"{path}: {where} must be a mapping")
    name = _field(path, where, data, "name", str)
    try:
        validate_name(name)
    except UsageError as exc:
        raise UsageError(f"{path}: {where}: {exc.message}") from None
    where = f"{where} ({name})"
    version = _field(path, where, data, "version", str)
    key = _field(path, where, data, "key", str)
    _check_key(path, where, key, root_prefix, name, version)
    size = _field(path, where, data, "size", int)
    if not 0 <= size <= MAX_LOCKED_SIZE:
        raise UsageError(
            f"{path}: {where}: 'size' {size} is not a bundle size (0 to {MAX_LOCKED_SIZE} bytes)"
        )
    sha256 = _field(path, where, data, "sha256", str)
    if not _SHA256.fullmatch(sha256):
        raise UsageError(f"{path}: {where}: 'sha256' must be 64 lowercase hex digits")
    return LockedPackage(
        name=name,
        version=version,
        key=key,
        size=size,
        sha256=sha256,
        dependencies=_names(path, where, data, "dependencies"),
        required_by=_names(path, where, data, "required_by"),
        wheel=_wheel(path, where, data),
    )


def _wheel(path: Path, where: str, data: Mapping[str, Any]) -> str | None:
    wheel = _optional_str(path, where, data, "wheel")
    if wheel is not None and tags_of_wheel(wheel) is None:
        raise UsageError(f"{path}: {where}: 'wheel' {wheel[:200]!r} is not a wheel file name")
    return wheel


def check_target(lock: Lock, target: TargetSpec) -> None:
    """Refuse a lock whose platform wheels do not fit the interpreter it is installed for."""
    platform = [p for p in lock.packages if p.wheel and not is_pure_wheel(p.wheel)]
    unfit = [p for p in platform if not target().fits(p.wheel or "")]
    if unfit:
        made_for = f" (made for {lock.target})" if lock.target else ""
        names = ", ".join(p.wheel or "" for p in unfit[:3]) + (", ..." if len(unfit) > 3 else "")
        raise UsageError(
            f"the lock's wheels{made_for} do not fit {target().shown()}: {names}; "
            "run 'pipper lock' again for this interpreter"
        )


def _check_key(path: Path, where: str, key: str, root_prefix: str, name: str, version: str) -> None:
    """The key must be a bundle key of that package and version, directly under the lock's
    prefix: it names the object (a path, in a local repository) and the output file, and a lock
    is a file anyone can edit in a pull request."""
    shown = repr(key[:200])
    parsed = parse_bundle_key(root_prefix, key)
    if parsed is None:  # also any '..', backslash or control character: no name holds one
        raise UsageError(
            f"{path}: {where}: {shown} is not a bundle key under {root_prefix!r} "
            "(PREFIX/NAME/vX-Y-Z.pipper)"
        )
    if normalize_name(parsed[0]) != normalize_name(name):
        raise UsageError(f"{path}: {where}: key {key} is not under the folder of {name}")
    try:
        same = parse_version(parsed[1]) == parse_version(version)
    except InvalidVersion:
        same = False
    if not same:
        raise UsageError(f"{path}: {where}: key {key} does not hold version {version[:100]}")


def _check_graph(path: Path, packages: Sequence[LockedPackage]) -> None:
    projects: dict[str, LockedPackage] = {}
    for package in packages:
        if package.project in projects:
            raise UsageError(f"{path}: {package.name} is locked twice")
        projects[package.project] = package
    for package in packages:
        for dependency in package.dependencies:
            if normalize_name(dependency) not in projects:
                raise UsageError(
                    f"{path}: {package} needs {dependency}, which the lock does not list; "
                    "run 'pipper lock' again"
                )
