"""Package ids from the command line and input files, checked before anything touches a bucket.

A package name becomes part of an S3 key and of local cache paths, so a name is accepted only when
it is a PEP 508 distribution name: that rules out path tricks (``..``, separators, absolute or
drive paths) and control characters in one place. Ids that are presigned URLs carry a secret in
their query string, so they are only ever shown without it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from pipper.errors import UsageError
from pipper.fsutil import read_small_file
from pipper.jsonio import JsonError, parse_json
from pipper.keys import BUNDLE_SUFFIX, VARIANT_SUFFIX, mask_url, parse_bundle_path, printable
from pipper.versions import NAME_PATTERN, mentions_prerelease, normalize_name, to_specifier

__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_NAME_LENGTH",
    "InputFile",
    "PackageId",
    "load_input",
    "merge_ids",
    "parse_package_id",
    "parse_package_ids",
    "validate_name",
]

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
MAX_INPUT_BYTES = 10 * 1024 * 1024
KNOWN_INPUT_KEYS = frozenset(
    {"dependencies", "dev_dependencies", "pypi", "name", "version", "description"}
)

_URL_SCHEME = re.compile(r"https?://", re.IGNORECASE | re.ASCII)
_DRIVE = re.compile(r"[A-Za-z]:", re.ASCII)
_SEPARATORS = re.compile(r"[/\\]")
_NAME_END = re.compile(r"[^<>=!~(]*")


@dataclass(frozen=True)
class PackageId:
    """One requested private package: a name, the versions acceptable, maybe a fixed URL."""

    name: str
    specifier: SpecifierSet
    raw: str = field(repr=False)
    url: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return normalize_name(self.name)

    @property
    def prereleases(self) -> bool:
        return mentions_prerelease(self.specifier)

    def __str__(self) -> str:
        if self.url is not None:
            return mask_url(self.url)
        return f"{self.name}{self.specifier}"


def validate_name(name: str) -> str:
    """``name`` unchanged when it is a distribution name, else a ``UsageError`` saying why."""
    if not name:
        raise UsageError("package name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(
            f"package name {name[:40]!r}... is too long "
            f"({len(name)} characters, at most {MAX_NAME_LENGTH})"
        )
    shown = repr(name)
    if not all(ch.isprintable() for ch in name):
        raise UsageError(f"package name {shown} contains a control or non-printable character")
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise UsageError(f"package name {shown} is an absolute path, not a name")
    if ".." in _SEPARATORS.split(name):
        raise UsageError(f"package name {shown} contains a '..' path component")
    if _SEPARATORS.search(name):
        raise UsageError(f"package name {shown} contains a path separator ('/' or '\\')")
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(
            f"{shown} is not a valid package name: use letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def _parse_url_id(url: str) -> PackageId:
    shown = mask_url(url)
    if any(not ch.isprintable() or ch.isspace() for ch in url):
        raise UsageError(f"package URL {shown!r} contains whitespace or control characters")
    host, _, path = url.split("://", 1)[1].partition("/")
    path = re.split(r"[?#]", path, maxsplit=1)[0]
    segments = [unquote(part) for part in path.split("/")]
    expected = (
        f"package URL {shown} does not end in <name>/<safe_version>{BUNDLE_SUFFIX} "
        f"(or <name>/<safe_version>.<wheel tags>{VARIANT_SUFFIX})"
    )
    if not host.rpartition("@")[2] or len(segments) < 2:
        raise UsageError(expected)
    name, filename = segments[-2], segments[-1]
    if not filename.endswith((BUNDLE_SUFFIX, VARIANT_SUFFIX)):
        raise UsageError(expected)
    try:
        validate_name(name)
    except UsageError as error:
        raise UsageError(f"package URL {shown}: {error.message}") from None
    parsed = parse_bundle_path(f"{name}/{filename}")
    if parsed is None:
        raise UsageError(f"{expected} (no version can be read from {filename!r})")
    version = parsed[1]
    return PackageId(name, SpecifierSet(f"=={Version(version)}"), raw=url, url=url)


def parse_package_id(text: str) -> PackageId:
    """``NAME``, ``NAME:CONSTRAINT``, ``NAME<PEP 440 specifiers>`` or a bundle URL."""
    stripped = text.strip()
    if not stripped:
        raise UsageError("empty package id")
    if _URL_SCHEME.match(stripped):
        return _parse_url_id(stripped)
    if "@" in stripped:
        raise UsageError(
            f"package id {stripped.partition('@')[0].strip()!r} @ ...: direct references "
            "(NAME @ URL) are not supported; give the bundle URL itself"
        )
    if _SEPARATORS.search(stripped) or not stripped.isprintable():
        validate_name(stripped)
    if ":" in stripped:
        name, _, constraint = stripped.partition(":")
        name = name.strip()
    else:
        for mark, what in (
            ("[", "extras (NAME[extra]) are not supported"),
            (";", "environment markers are not supported"),
        ):
            if mark in stripped:
                raise UsageError(f"package id {stripped!r}: {what}")
        end = _NAME_END.match(stripped)
        cut = end.end() if end else 0
        name, constraint = stripped[:cut].strip(), stripped[cut:]
    validate_name(name)
    try:
        specifier = to_specifier(constraint)
    except UsageError as error:
        raise UsageError(f"package {name}: {error.message}") from None
    return PackageId(name, specifier, raw=text)


def parse_package_ids(items: Iterable[str]) -> list[PackageId]:
    return [parse_package_id(item) for item in items]


def merge_ids(ids: Iterable[PackageId]) -> list[PackageId]:
    """One id per package, asking for what every mention asks for, in first-mention order."""
    merged: dict[str, PackageId] = {}
    for package in ids:
        seen = merged.get(package.key)
        if seen is None:
            merged[package.key] = package
            continue
        merged[package.key] = PackageId(
            name=seen.name,
            specifier=seen.specifier & package.specifier,
            raw=f"{seen.raw}, {package.raw}",
            url=seen.url if seen.url is not None else package.url,
        )
    return list(merged.values())


@dataclass(frozen=True)
class InputFile:
    """A ``pipper.json``/``pipper.yaml``: what to install, checked entry by entry."""

    path: Path
    dependencies: tuple[PackageId, ...]
    dev_dependencies: tuple[PackageId, ...]
    pypi: tuple[str, ...]

    def ids(self, dev: bool) -> list[PackageId]:
        return list(self.dependencies) + (list(self.dev_dependencies) if dev else [])


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


def _read_text(path: Path) -> str:
    blob = read_small_file(path, MAX_INPUT_BYTES, "input file")
    try:
        return blob.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from None


def _parse_json(path: Path, text: str) -> object:
    try:
        return parse_json(text)
    except JsonError as error:
        raise UsageError(error.at(path)) from None


def _parse_yaml(path: Path, text: str) -> object:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = printable(error.problem or error.context or "not valid YAML")
        if mark is None:
            raise UsageError(f"{path}: {problem}") from None
        raise UsageError(f"{path}:{mark.line + 1}:{mark.column + 1}: {problem}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"{path}: {printable(str(error))}") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply") from None
    except ValueError as error:  # a value no constructor builds: int() of 5,000 digits, 2024-13-45
        reason = printable(str(error).partition(";")[0])
        raise UsageError(f"{path}: a value cannot be read: {reason}") from None


def _strings(path: Path, document: Mapping[object, object], key: str) -> tuple[str, ...]:
    value = document.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise UsageError(f"{path}: {key!r} must be a list of strings, not {_kind(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise UsageError(f"{path}: {key}[{index}] must be a string, not {_kind(item)}")
    return tuple(value)


def _ids(path: Path, document: Mapping[object, object], key: str) -> tuple[PackageId, ...]:
    ids = []
    for index, item in enumerate(_strings(path, document, key)):
        try:
            ids.append(parse_package_id(item))
        except UsageError as error:
            raise UsageError(f"{path}: {key}[{index}]: {error.message}") from None
    return tuple(ids)


def load_input(path: Path) -> InputFile:
    """Read an input file; anything that is not ``.yaml``/``.yml`` is JSON, as in the original.

    A key given as ``null`` (YAML's bare ``dependencies:``) counts as an empty list.
    """
    path = Path(path)
    text = _read_text(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        document = _parse_yaml(path, text)
    else:
        document = _parse_json(path, text)
    if not isinstance(document, dict):
        raise UsageError(f"{path}: the top level must be a mapping, not {_kind(document)}")
    for key in document:
        if key not in KNOWN_INPUT_KEYS:
            logger.warning("%s: ignoring unknown key %r", path, key)
    pypi = _strings(path, document, "pypi")
    for index, requirement in enumerate(pypi):
        try:
            Requirement(requirement)
        except InvalidRequirement as error:
            reason = printable(str(error).splitlines()[0] if str(error) else "invalid")
            raise UsageError(
                f"{path}: pypi[{index}] is not a valid requirement: {reason}"
            ) from None
    return InputFile(
        path=path,
        dependencies=_ids(path, document, "dependencies"),
        dev_dependencies=_ids(path, document, "dev_dependencies"),
        pypi=pypi,
    )


@dataclass(frozen=True)
class Requested:
    """What a command was asked for: private package ids and ``pypi`` requirements."""

    ids: list[PackageId]
    pypi: tuple[str, ...] = ()


def gather_requested(
    ids: Iterable[str],
    input_file: Path | None,
    *,
    dev: bool,
    goal: str = "do",
    bundles: bool = False,
) -> Requested:
    """Ids from the command line and/or ``-i``; ``./pipper.json`` when neither is given.

    ``goal`` names what the command does in the "nothing to ..." message; ``bundles`` says
    ``.pipper`` files were given too (``install``), so an empty id list is fine.
    """
    found = parse_package_ids(ids)
    path = input_file
    if path is None and not found and not bundles:
        default = Path("pipper.json")
        if not default.is_file():
            files = ", .pipper files" if goal == "install" else ""
            raise UsageError(
                f"nothing to {goal}: give package ids{files} or -i FILE (no ./pipper.json here)"
            )
        path = default
    pypi: tuple[str, ...] = ()
    if path is not None:
        loaded = load_input(path)
        found.extend(loaded.ids(dev))
        pypi = loaded.pypi
    if not found and not bundles and not pypi:
        what = "nothing to install" if goal == "install" else "no dependencies"
        raise UsageError(f"{path} lists {what}")
    return Requested(merge_ids(found), pypi)
