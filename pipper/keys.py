"""Bundle keys, bundle file names and bundle URLs: the one place that builds and parses them.

Buckets are shared with the original tool, so a key written here must be the key the original
would write, and a key the original wrote must read back to the version it stood for.

Key scheme (the ``<safe_version>`` in ``<root_prefix>/<name>/<safe_version>.pipper``):

- A semver-shaped version (``MAJOR.MINOR.PATCH[-PRE][+BUILD]``) is written exactly as the original
  does: ``v`` + ``M-m-p``, then ``__pre_<PRE>`` and ``__build_<BUILD>``, every ``.`` inside PRE and
  BUILD turned into ``_`` (``1.2.3-alpha.1+2-tests`` -> ``v1-2-3__pre_alpha_1__build_2-tests``).
  Semver identifiers never contain ``_``, so the mapping is exact both ways.
- Any other version must be valid PEP 440. Its normalized form is written as ``v`` + the release
  parts joined by ``-`` (any number of them), followed by these optional segments, always in this
  order: ``__epoch_<N>``, ``__pre_<a|b|rc><N>``, ``__post_<N>``, ``__dev_<N>``,
  ``__build_<local with . as _>``. So ``1!2.0rc1.post2.dev3+ubuntu.1`` ->
  ``v2-0__epoch_1__pre_rc1__post_2__dev_3__build_ubuntu_1``. A three-part version with only a
  prerelease and/or a local part (``1.2.0rc1`` -> ``v1-2-0__pre_rc1``) lands on a key the original
  also reads.

Reading a key back accepts only canonical keys (those the rules above produce) whose version pip
can install. Everything else (``latest``, ``v1-x``, a semver prerelease such as ``alpha-beta.1``
that is not PEP 440) reads as ``None`` so a listing can skip it with a warning. Distinct keys can
denote equal versions (``v1-0`` and ``v1-0-0``; ``v1-2-3__pre_alpha_1`` and ``v1-2-3__pre_a1``):
compare :class:`~packaging.version.Version` objects, not keys, when asking "is it there already".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from packaging.version import InvalidVersion

from pipper.errors import UsageError
from pipper.shown import mask_url, printable, redact_url
from pipper.versions import MAX_VERSION_LENGTH, NAME_PATTERN, parse_version

__all__ = [
    "BUNDLE_SUFFIX",
    "KeyKind",
    "ParsedKey",
    "UrlTarget",
    "bundle_filename",
    "bundle_key",
    "index_file_key",
    "index_prefix",
    "index_project_prefix",
    "is_pure_wheel",
    "local_filename",
    "local_tag_part",
    "mask_url",
    "parse_bundle_filename",
    "parse_bundle_key",
    "parse_bundle_path",
    "parse_key",
    "parse_safe_version",
    "primary_tags_key",
    "printable",
    "redact_url",
    "safe_version",
    "variant_key",
    "wheel_bundle_filename",
    "wheel_tag_part",
    "yank_marker_key",
    "yanked_bundle_key",
]

BUNDLE_SUFFIX = ".pipper"
YANK_SUFFIX = ".yanked"
VARIANT_SUFFIX = ".variant"
PRIMARY_TAGS_SUFFIX = ".primary"
_TAG_PART = re.compile(r"[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+){2,3}", re.ASCII)
INDEX_FOLDER = "~simple"
"""The simple index's folder under the root prefix: ``~`` sorts after every character a package
name can start with, so its keys come after every bundle key in a listing of the root, and no
package can be named so (the original lists ``<root>/<name>/v...`` and never sees it)."""
METADATA_SUFFIX = ".metadata"

_NUM = r"(?:0|[1-9][0-9]*)"
_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-({_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)
_KEY_CHARS = re.compile(r"v[0-9A-Za-z_-]+", re.ASCII)
_RELEASE = re.compile(rf"{_NUM}(?:-{_NUM})*", re.ASCII)
_SEGMENT_ORDER = ("epoch", "pre", "post", "dev", "build")


def safe_version(version: str) -> str:
    """The key part (no extension) for ``version``; ``UsageError`` when it is no version at all."""
    semver = _SEMVER.fullmatch(version)
    if semver:
        major, minor, patch, pre, build = semver.groups()
        key = f"v{major}-{minor}-{patch}"
        if pre:
            key += "__pre_" + pre.replace(".", "_")
        if build:
            key += "__build_" + build.replace(".", "_")
        return key
    try:
        parsed = parse_version(version)
    except InvalidVersion as exc:
        too_long = len(version) > MAX_VERSION_LENGTH
        raise UsageError(str(exc) if too_long else f"{version!r} is not a valid version") from None
    segments = ["v" + "-".join(str(part) for part in parsed.release)]
    if parsed.epoch:
        segments.append(f"epoch_{parsed.epoch}")
    if parsed.pre is not None:
        segments.append(f"pre_{parsed.pre[0]}{parsed.pre[1]}")
    if parsed.post is not None:
        segments.append(f"post_{parsed.post}")
    if parsed.dev is not None:
        segments.append(f"dev_{parsed.dev}")
    if parsed.local is not None:
        segments.append("build_" + parsed.local.replace(".", "_"))
    return "__".join(segments)


def parse_safe_version(safe: str) -> str | None:
    """The version a key part stands for, or ``None`` for anything this tool must not trust."""
    if not isinstance(safe, str) or not _KEY_CHARS.fullmatch(safe):
        return None
    head, *rest = safe[1:].split("__")
    if not _RELEASE.fullmatch(head):
        return None
    release = head.split("-")
    fields: dict[str, str] = {}
    last = -1
    for segment in rest:
        tag, _, value = segment.partition("_")
        if tag not in _SEGMENT_ORDER or not value:
            return None
        index = _SEGMENT_ORDER.index(tag)
        if index <= last:
            return None
        last = index
        fields[tag] = value
    if len(release) == 3 and set(fields) <= {"pre", "build"}:
        text = ".".join(release)
        if "pre" in fields:
            text += "-" + fields["pre"].replace("_", ".")
        if "build" in fields:
            text += "+" + fields["build"].replace("_", ".")
    else:
        text = f"{fields['epoch']}!" if "epoch" in fields else ""
        text += ".".join(release) + fields.get("pre", "")
        if "post" in fields:
            text += ".post" + fields["post"]
        if "dev" in fields:
            text += ".dev" + fields["dev"]
        if "build" in fields:
            text += "+" + fields["build"].replace("_", ".")
    try:
        parse_version(text)
        canonical = safe_version(text)
    except (InvalidVersion, UsageError):
        return None
    return text if canonical == safe else None


def _strip_prefix(root_prefix: str) -> str:
    return root_prefix.strip("/")


def bundle_key(root_prefix: str, name: str, version: str) -> str:
    """Where the original keeps ``name``'s ``version``; ``name`` must already be validated."""
    prefix = _strip_prefix(root_prefix)
    tail = f"{name}/{safe_version(version)}{BUNDLE_SUFFIX}"
    return f"{prefix}/{tail}" if prefix else tail


def index_prefix(root_prefix: str) -> str:
    """``<root_prefix>/~simple/``: the simple index's root page and every project below it."""
    prefix = _strip_prefix(root_prefix)
    return f"{prefix}/{INDEX_FOLDER}/" if prefix else f"{INDEX_FOLDER}/"


def index_project_prefix(root_prefix: str, project: str) -> str:
    """``<root_prefix>/~simple/<project>/``, the PEP 503 name's folder: its page and files."""
    return f"{index_prefix(root_prefix)}{project}/"


def index_file_key(root_prefix: str, project: str, filename: str) -> str:
    """Where the index keeps a wheel (``filename``) of ``project``; its core metadata (PEP 658)
    is the same key with ``.metadata``."""
    if not filename or "/" in filename or filename.startswith("."):
        raise UsageError(f"{filename!r} is not a plain file name")
    return index_project_prefix(root_prefix, project) + filename


def parse_bundle_key(root_prefix: str, key: str) -> tuple[str, str] | None:
    """``(name as written, version)`` for a bundle key directly under ``root_prefix``, else None."""
    prefix = _strip_prefix(root_prefix)
    start = f"{prefix}/" if prefix else ""
    if not key.startswith(start):
        return None
    parts = key[len(start) :].split("/")
    if len(parts) != 2:
        return None
    name, filename = parts
    version = _version_of(filename) or _variant_version(filename)
    if not NAME_PATTERN.fullmatch(name) or version is None:
        return None
    return name, version


KeyKind = Literal["bundle", "variant", "tags"]


@dataclass(frozen=True)
class ParsedKey:
    """One object of a package's folder: a bundle, another wheel's bundle, or a tags marker.

    A version holds one bundle at ``<safe_version>.pipper`` (the one the original reads) and, for
    each further wheel of that version, a complete bundle at
    ``<safe_version>.<wheel tags>.variant``. When the ``.pipper`` bundle holds a platform wheel,
    a small marker ``<safe_version>.<wheel tags>.primary`` names its tags, so a listing alone
    says which wheels a version offers. The original keeps only keys ending in ``.pipper``, so
    it never sees the other two.
    """

    name: str
    version: str
    kind: KeyKind
    primary: str
    """The key of the version's ``.pipper`` bundle."""
    tag_part: str | None = None
    """``[build-]python-abi-platform`` of the wheel, for variants and tags markers."""


def wheel_tag_part(wheel_name: str) -> str:
    """The tags part of a wheel file name, as keys carry it: ``cp311-cp311-linux_x86_64`` of
    ``a-1.0-cp311-cp311-linux_x86_64.whl`` (with a build tag first, when the wheel has one)."""
    part = "-".join(wheel_name.removesuffix(".whl").split("-")[2:])
    if not wheel_name.endswith(".whl") or not _TAG_PART.fullmatch(part):
        raise UsageError(f"{printable(wheel_name)} is not a wheel file name")
    return part


def variant_key(primary_key: str, wheel_name: str) -> str:
    """Where a further wheel of the version at ``primary_key`` is kept, as a bundle of its own."""
    return f"{primary_key.removesuffix(BUNDLE_SUFFIX)}.{wheel_tag_part(wheel_name)}{VARIANT_SUFFIX}"


def primary_tags_key(primary_key: str, tag_part: str) -> str:
    """The marker that names the tags (:func:`wheel_tag_part`) of the wheel the ``.pipper``
    bundle at ``primary_key`` holds."""
    if not _TAG_PART.fullmatch(tag_part):
        raise UsageError(f"{printable(tag_part)} are not wheel tags")
    return f"{primary_key.removesuffix(BUNDLE_SUFFIX)}.{tag_part}{PRIMARY_TAGS_SUFFIX}"


def parse_key(root_prefix: str, key: str) -> ParsedKey | None:
    """What an object of a package folder is; None for anything else (yank markers included)."""
    folder, _, filename = key.rpartition("/")
    if filename.endswith(BUNDLE_SUFFIX):
        parsed = parse_bundle_key(root_prefix, key)
        return None if parsed is None else ParsedKey(*parsed, "bundle", key)
    for suffix, kind in ((VARIANT_SUFFIX, "variant"), (PRIMARY_TAGS_SUFFIX, "tags")):
        if filename.endswith(suffix):
            safe, dot, part = filename.removesuffix(suffix).partition(".")
            primary = f"{folder}/{safe}{BUNDLE_SUFFIX}" if folder else f"{safe}{BUNDLE_SUFFIX}"
            parsed = parse_bundle_key(root_prefix, primary)
            if parsed is None or not dot or not _TAG_PART.fullmatch(part):
                return None
            return ParsedKey(*parsed, kind, primary, part)  # type: ignore[arg-type]
    return None


def _variant_version(filename: str) -> str | None:
    if not filename.endswith(VARIANT_SUFFIX):
        return None
    safe, dot, part = filename.removesuffix(VARIANT_SUFFIX).partition(".")
    if not dot or not _TAG_PART.fullmatch(part):
        return None
    return parse_safe_version(safe)


def local_filename(name: str, key: str, tag_part: str | None = None) -> str:
    """The file name of the bundle at ``key`` in a folder: ``<name>-<safe_version>.pipper``, or
    ``<name>-<safe_version>.<wheel tags>.pipper`` for a bundle whose platform wheel's tags are
    known (a variant, or a ``.pipper`` bundle with a tags marker), so a folder of them tells
    ``install --from`` which wheel each holds, as the repository does."""
    stem = key.rsplit("/", 1)[-1].removesuffix(VARIANT_SUFFIX).removesuffix(BUNDLE_SUFFIX)
    safe = stem.partition(".")[0]
    return (
        f"{name}-{safe}.{tag_part}{BUNDLE_SUFFIX}" if tag_part else f"{name}-{stem}{BUNDLE_SUFFIX}"
    )


def wheel_bundle_filename(name: str, version: str, wheel_name: str) -> str:
    """The file name of a bundle of ``wheel_name``: :func:`bundle_filename` for a pure wheel
    (``*-none-any``), ``<name>-<safe_version>.<wheel tags>.pipper`` for a platform wheel, so the
    wheels of one version can lie side by side in one folder."""
    if is_pure_wheel(wheel_name):
        return bundle_filename(name, version)
    return f"{name}-{safe_version(version)}.{wheel_tag_part(wheel_name)}{BUNDLE_SUFFIX}"


def _expand(part: str) -> list[str]:
    python, abi, platform = part.split("-")[-3:]
    return [
        f"{p}-{a}-{pl}"
        for p in python.split(".")
        for a in abi.split(".")
        for pl in platform.split(".")
    ]


def is_pure_wheel(wheel_name: str) -> bool:
    """Whether every tag of the wheel is ``*-none-any``: it fits every platform."""
    return all(tag.endswith("-none-any") for tag in _expand(wheel_tag_part(wheel_name)))


def bundle_filename(name: str, version: str) -> str:
    """One local file name per bundle, the one the original's ``bundle`` command uses."""
    return f"{name}-{safe_version(version)}{BUNDLE_SUFFIX}"


def yank_marker_key(bundle_key: str) -> str:
    """The key of the marker that yanks the bundle at ``bundle_key``.

    A yanked version has a marker beside its bundle: the bundle's key with ``.yanked`` in place
    of ``.pipper`` (``pipper/alpha/v1-0-0.yanked``), a small JSON object. The original lists a
    package's keys and keeps only those ending in ``.pipper``, so it never sees a marker.
    """
    return bundle_key.removesuffix(BUNDLE_SUFFIX) + YANK_SUFFIX


def yanked_bundle_key(root_prefix: str, key: str) -> str | None:
    """The bundle key a yank marker stands for, or None when ``key`` is no marker."""
    if not key.endswith(YANK_SUFFIX):
        return None
    bundle = key.removesuffix(YANK_SUFFIX) + BUNDLE_SUFFIX
    return bundle if parse_bundle_key(root_prefix, bundle) is not None else None


def parse_bundle_path(path: str) -> tuple[str, str] | None:
    """``(name, version)`` from the last two parts of ``.../<name>/<safe_version>.pipper``.

    Bundle URLs and lock entries name a bundle this way; the name is checked against PEP 508 and
    the version must be one this module would write (see :func:`parse_safe_version`).
    """
    folder, _, filename = path.rpartition("/")
    name = folder.rpartition("/")[2]
    version = _version_of(filename) or _variant_version(filename)
    if not name or version is None or not NAME_PATTERN.fullmatch(name):
        return None
    return name, version


def parse_bundle_filename(filename: str) -> tuple[str, str] | None:
    """``(name, version)`` of ``<name>-<safe_version>.pipper``; names may contain ``-``."""
    if not filename.endswith(BUNDLE_SUFFIX):
        return None
    stem = filename[: -len(BUNDLE_SUFFIX)]
    start = 0
    while (at := stem.find("-v", start)) > 0:
        safe, dot, part = stem[at + 1 :].partition(".")
        if dot and not _TAG_PART.fullmatch(part):
            start = at + 1
            continue
        name, version = stem[:at], parse_safe_version(safe)
        if version is not None and NAME_PATTERN.fullmatch(name):
            return name, version
        start = at + 1
    return None


def local_tag_part(filename: str) -> str | None:
    """The wheel tags in a further wheel's file name (``<name>-<sv>.<tags>.pipper``), else None."""
    stem = filename.removesuffix(BUNDLE_SUFFIX)
    at = stem.rfind("-v")
    part = stem[at:].partition(".")[2] if at > 0 else ""
    return part if part and _TAG_PART.fullmatch(part) else None


def _version_of(filename: str) -> str | None:
    if not filename.endswith(BUNDLE_SUFFIX):
        return None
    return parse_safe_version(filename[: -len(BUNDLE_SUFFIX)])


@dataclass(frozen=True)
class UrlTarget:
    """What a bundle URL promises, and how the cache remembers it without the signature."""

    url: str
    name: str
    version: str
    origin: str
    path: str

    @property
    def shown(self) -> str:
        return f"{self.origin}{self.path}"

    @classmethod
    def of(cls, url: str) -> UrlTarget:
        """The target of a bundle URL; ``UsageError`` when it names no bundle."""
        parts = urlsplit(url)
        path = unquote(parts.path)
        parsed = parse_bundle_path(path)
        if parsed is None:
            raise UsageError(
                f"package URL {mask_url(url)} does not end in <name>/<safe_version>{BUNDLE_SUFFIX}"
                f" (or <name>/<safe_version>.<wheel tags>{VARIANT_SUFFIX})"
            )
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        origin = f"{parts.scheme.lower()}://{host}" + (f":{parts.port}" if parts.port else "")
        name, version = parsed
        return cls(url=url, name=name, version=version, origin=origin, path=path)
