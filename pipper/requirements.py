"""What a bundle requires, and which of it is private: the rules of the one graph.

A private package's requirements come from three places: the ``dependencies`` of its
``package.meta`` (the original's pipper ids), its wheel's ``Requires-Dist`` (recorded in the meta
as ``requires_dist`` by ``pipper bundle``; read from the wheel itself in bundles without it, such
as the original's) and the meta's ``pypi`` entries. Environment markers are evaluated for the
interpreter the graph is for, so ``tomli; python_version < "3.11"`` is part of a 3.10 graph only.

Then one rule splits them: a requirement whose name the repository holds is private (resolved
from the bucket, even when ``pipper.json`` does not list it, so a project declares its private
dependencies once, in ``pyproject.toml``); every other requirement is public (resolved from the
index by pip). The split itself needs the repository, so it is made by the run; everything here
is pure.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from packaging.markers import UndefinedEnvironmentName, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from pipper.errors import BundleError, UsageError
from pipper.specs import PackageId, validate_name
from pipper.versions import normalize_name

__all__ = [
    "Declared",
    "PublicRequirement",
    "applicable",
    "declared_in_metadata",
    "declared_of_meta",
    "describe_requirements",
    "requires_dist_of_wheel",
    "to_package_id",
]

MAX_METADATA_BYTES = 4 * 1024 * 1024
REQUIRES_DIST = "requires_dist"
"""The ``package.meta`` field ``pipper bundle`` records the wheel's ``Requires-Dist`` in."""


@dataclass(frozen=True)
class PublicRequirement:
    """A requirement the repository does not hold, and who asked for it (``None``: the user)."""

    requirement: str
    required_by: str | None = None

    @property
    def name(self) -> str:
        return normalize_name(Requirement(self.requirement).name)

    def __str__(self) -> str:
        return f"{self.requirement} (from {self.required_by or 'requested'})"


@dataclass(frozen=True)
class Declared:
    """What one bundle declares: pipper ids, the wheel's requirements (``None``: not recorded,
    read the wheel) and ``pypi`` entries."""

    dependencies: tuple[str, ...]
    requires_dist: tuple[str, ...] | None
    pypi: tuple[str, ...]


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(key)
    return tuple(value)


def declared_of_meta(data: Mapping[str, Any], where: str) -> Declared:
    """The declarations of a ``package.meta`` (or the ``package`` metadata JSON)."""
    try:
        return Declared(
            dependencies=_strings(data, "dependencies") or (),
            requires_dist=_strings(data, REQUIRES_DIST),
            pypi=_strings(data, "pypi") or (),
        )
    except ValueError as exc:
        raise BundleError(f"{where}: '{exc}' must be a list of strings") from None


def declared_in_metadata(metadata: Mapping[str, str], where: str) -> Declared | None:
    """The declarations in an object's ``package`` user metadata, when it carries them sanely."""
    text = metadata.get("package")
    if not text:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return declared_of_meta(data, where)
    except BundleError:
        return None


def applicable(
    raw: Iterable[str],
    environment: Mapping[str, str] | Callable[[], Mapping[str, str]],
    *,
    where: str,
) -> list[Requirement]:
    """The requirements of ``raw`` whose markers hold in ``environment`` (no extra asked for).

    ``environment`` may be a callable, asked only when a requirement has a marker: probing
    another interpreter for its markers costs a process.
    """
    found: list[Requirement] = []
    context: dict[str, str] | None = None
    for text in raw:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0] if str(exc) else "invalid"
            raise BundleError(f"{where} requires {text!r}, which is not valid: {reason}") from None
        if requirement.marker is not None:
            if context is None:
                given = environment() if callable(environment) else environment
                context = {**given, "extra": ""}
            try:
                if not requirement.marker.evaluate(context):
                    continue
            except UndefinedEnvironmentName as exc:
                raise BundleError(f"{where} requires {text!r}: {exc}") from None
        found.append(requirement)
    return found


def to_package_id(requirement: Requirement, where: str) -> PackageId:
    """A requirement on a private package as the resolver's id (extras and URLs do not apply:
    the bucket holds one bundle per version)."""
    try:
        validate_name(requirement.name)
    except UsageError as exc:
        raise BundleError(f"{where} requires {requirement}: {exc.message}") from None
    specifier = SpecifierSet(str(requirement.specifier))
    return PackageId(requirement.name, specifier, raw=str(requirement))


def marker_environment() -> dict[str, str]:
    """The running interpreter's marker environment."""
    return {k: str(v) for k, v in default_environment().items()}


def wheel_metadata(wheel: IO[bytes], where: str) -> bytes:
    """The bytes of a wheel's one top-level ``*.dist-info/METADATA``, read without extracting
    (its ``Requires-Dist`` here, PEP 658's ``.metadata`` file in the simple index)."""
    try:
        wheel.seek(0)
        with zipfile.ZipFile(wheel) as zf:
            names = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            if len(names) != 1:
                raise BundleError(f"{where}: the wheel has no single *.dist-info/METADATA")
            info = zf.getinfo(names[0])
            if info.file_size > MAX_METADATA_BYTES:
                raise BundleError(f"{where}: the wheel's METADATA is too large")
            with zf.open(info) as src:
                data = src.read(MAX_METADATA_BYTES + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BundleError(f"{where}: cannot read the wheel's METADATA: {exc}") from None
    if len(data) > MAX_METADATA_BYTES:
        raise BundleError(f"{where}: the wheel's METADATA is too large")
    return data


def requires_dist_of_wheel(wheel: IO[bytes], where: str) -> tuple[str, ...]:
    """``Requires-Dist`` of a wheel's ``*.dist-info/METADATA``, read without extracting."""
    from email.parser import HeaderParser  # 13 ms to import, and most runs never need it

    text = wheel_metadata(wheel, where).decode("utf-8", "replace")
    headers = HeaderParser().parsestr(text[:MAX_METADATA_BYTES])
    return tuple(str(v).strip() for v in headers.get_all("Requires-Dist") or ())


def requires_dist_of_bundle(path: Path, where: str) -> tuple[str, ...]:
    """``Requires-Dist`` of the wheel inside a (validated) bundle: bundles store their entries,
    so the wheel is read in place."""
    from pipper.bundle import WHEEL_ENTRY

    with zipfile.ZipFile(path) as outer, outer.open(WHEEL_ENTRY) as wheel:
        return requires_dist_of_wheel(wheel, where)


def describe_requirements(requirements: Sequence[PublicRequirement], limit: int = 8) -> str:
    """``requests>=2 (from alpha 1.0.0), six (from requested)``, cut after ``limit``."""
    shown = ", ".join(str(r) for r in requirements[:limit])
    more = len(requirements) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def requirement_names(raw: Iterable[str]) -> set[str]:
    """PEP 503 names of requirement strings; entries that do not parse are left out."""
    names: set[str] = set()
    for text in raw:
        try:
            names.add(normalize_name(Requirement(text).name))
        except InvalidRequirement:
            continue
    return names


def declaration_warnings(project: Mapping[str, Any], requires_dist: Iterable[str]) -> list[str]:
    """Where a project's ``pipper.json`` and its wheel's requirements disagree (``bundle``).

    Only a ``pipper.json`` that lists ``dependencies`` is compared: a project that declares its
    private dependencies once, in ``pyproject.toml``, has nothing to disagree with. A pipper
    dependency the wheel does not require is installed but never checked by pip; a wheel
    requirement neither listed as a dependency nor under ``pypi`` is resolved by the rule
    (private if the repository holds it) and may surprise whoever reads ``pipper.json``.
    """
    from pipper.errors import PipperError
    from pipper.specs import parse_package_id

    listed = project.get("dependencies")
    if not isinstance(listed, list) or not listed:
        return []
    dependencies: set[str] = set()
    for text in listed:
        try:
            dependencies.add(parse_package_id(str(text)).key)
        except PipperError:
            continue
    pypi = project.get("pypi")
    public = requirement_names(pypi if isinstance(pypi, list) else [])
    wheel = requirement_names(r for r in requires_dist if "extra" not in r.partition(";")[2])
    warnings = [
        f"pipper.json lists {name} under dependencies, but the wheel does not require it"
        for name in sorted(dependencies - wheel)
    ]
    warnings += [
        f"the wheel requires {name}, which pipper.json lists neither under dependencies nor "
        "under pypi"
        for name in sorted(wheel - dependencies - public)
    ]
    return warnings
