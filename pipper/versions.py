"""Package names and version constraints: PEP 503 names, the original's constraint syntax as PEP
440 specifier sets.

How a version is spelled inside a bucket key is :mod:`pipper.keys`'s job.

Version and constraint text comes from command lines, input files, lock files and bundles anyone
with write access to a bucket can write, and ``packaging`` turns every release number into an
``int``, which refuses more than 4,300 digits with a ``ValueError`` no caller expects. So the
length of such text is checked here, once, before ``packaging`` sees it: :func:`parse_version`
and :func:`to_specifier` are the ways in.
"""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from pipper.errors import UsageError

__all__ = [
    "MAX_CONSTRAINT_LENGTH",
    "MAX_VERSION_LENGTH",
    "NAME_PATTERN",
    "mentions_prerelease",
    "normalize_name",
    "parse_version",
    "pins_exactly",
    "to_specifier",
]

NAME_PATTERN = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)
"""PEP 508 distribution name; use with ``fullmatch``. ASCII-only so ``K`` (Kelvin) is no ``k``."""

MAX_VERSION_LENGTH = 200
"""Longer than any real version (a local part with a commit hash is about 50 characters)."""
MAX_CONSTRAINT_LENGTH = 1000
"""A specifier set of a few clauses, each a version; far below what ``int()`` refuses."""

_ANY = frozenset({"", "*", "latest"})
_BARE_VERSION = re.compile(r"=?\s*(v?[0-9][^\s,;<>=!~()]*)", re.ASCII)
_PARTIAL_RELEASE = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def normalize_name(name: str) -> str:
    """PEP 503 form, so ``Alpha-Pkg``, ``alpha_pkg`` and ``alpha.pkg`` find the same package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_version(text: str) -> Version:
    """``Version(text)``; text too long to be a real version is an ``InvalidVersion`` too, so
    callers need to catch only that."""
    if len(text) > MAX_VERSION_LENGTH:
        raise InvalidVersion(
            f"version {text[:20]!r}... is {len(text)} characters long "
            f"(at most {MAX_VERSION_LENGTH})"
        )
    return Version(text)


def same_version(expected: str, actual: Version) -> bool:
    """Whether the version a key or a record names is ``actual`` (text compared if unparsable)."""
    try:
        return parse_version(expected) == actual
    except InvalidVersion:
        return expected == str(actual)


def to_specifier(constraint: str | None) -> SpecifierSet:
    """The PEP 440 set for a constraint written the original's way or the PEP 440 way.

    Empty, ``*`` and ``latest`` allow any version. A bare version or one after a single ``=``
    means that version (``1.1.0`` -> ``==1.1.0``, ``1.*`` -> ``==1.*``), except that one or two
    plain release numbers keep the original's prefix meaning (``1.1`` -> ``==1.1.*``, where PEP
    440's ``==1.1`` would only match ``1.1.0``). Anything with an operator is read as a PEP 440
    specifier set, so ``<=1.2`` excludes ``1.2.5`` as pip would, where the original included it.
    """
    text = (constraint or "").strip()
    if len(text) > MAX_CONSTRAINT_LENGTH:
        raise UsageError(
            f"version constraint {text[:20]!r}... is {len(text)} characters long "
            f"(at most {MAX_CONSTRAINT_LENGTH})"
        )
    if text.lower() in _ANY:
        return SpecifierSet()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    bare = _BARE_VERSION.fullmatch(text)
    if bare:
        version = bare.group(1)
        text = f"=={version}.*" if _PARTIAL_RELEASE.fullmatch(version) else f"=={version}"
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise UsageError(
            f"invalid version constraint {constraint!r}: expected a version such as 1.2.0, "
            "a wildcard such as 1.2.*, or PEP 440 specifiers such as >=1.0,<2"
        ) from None


def pins_exactly(spec: SpecifierSet, version: Version) -> bool:
    """Whether ``spec`` names ``version`` with ``==`` (no wildcard) or ``===``.

    Only such a pin selects a yanked version (PEP 592); ``>=1.0`` or ``==1.*`` never does.
    """
    return any(
        item.operator in ("==", "===")
        and not item.version.endswith(".*")
        and item.contains(version, prereleases=True)
        for item in spec
    )


def mentions_prerelease(spec: SpecifierSet) -> bool:
    """Whether the constraint itself names a prerelease, the only way it opts into them.

    Excluding one (``!=2.0rc1``) is not asking for prereleases.
    """
    for item in spec:
        if item.operator == "!=":
            continue
        try:
            if parse_version(item.version).is_prerelease:
                return True
        except InvalidVersion:
            continue
    return False
