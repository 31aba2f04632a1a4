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
from urllib.parse import unquote, urlsplit

from packaging.version import InvalidVersion

from pipper.errors import UsageError
from pipper.versions import MAX_VERSION_LENGTH, NAME_PATTERN, parse_version

__all__ = [
    "BUNDLE_SUFFIX",
    "UrlTarget",
    "bundle_filename",
    "bundle_key",
    "index_file_key",
    "index_prefix",
    "index_project_prefix",
    "mask_url",
    "parse_bundle_filename",
    "parse_bundle_key",
    "parse_bundle_path",
    "parse_safe_version",
    "printable",
    "redact_url",
    "safe_version",
    "yank_marker_key",
    "yanked_bundle_key",
]

BUNDLE_SUFFIX = ".pipper"
YANK_SUFFIX = ".yanked"
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
    version = _version_of(filename)
    if not NAME_PATTERN.fullmatch(name) or version is None:
        return None
    return name, version


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
    version = _version_of(filename)
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
        name, version = stem[:at], parse_safe_version(stem[at + 1 :])
        if version is not None and NAME_PATTERN.fullmatch(name):
            return name, version
        start = at + 1
    return None


def _version_of(filename: str) -> str | None:
    if not filename.endswith(BUNDLE_SUFFIX):
        return None
    return parse_safe_version(filename[: -len(BUNDLE_SUFFIX)])


# -- showing keys and URLs ------------------------------------------------------------------------


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` with every non-printable character escaped (``\\x1b``, ``\\r``, ``\\u202e``).

    Keys, file names and URLs in messages come from buckets and files other people write; shown
    raw, an escape sequence in one recolours, moves or rewrites the user's terminal. Newlines
    become spaces, or stay with ``multiline`` (a message that quotes a tool's output).
    """
    if text.isprintable():
        return text
    lines = [
        "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in line)
        for line in text.split("\n")
    ]
    return ("\n" if multiline else " ").join(lines)


def mask_url(url: str) -> str:
    """``url`` as it may be shown: without user info, query string or fragment.

    The one helper for every URL pipper prints or logs (bundle URLs, whose query is a signature;
    index URLs, whose user info is a password). A value with no ``://`` keeps its text up to any
    ``?`` or ``#``, so an argument list can be masked item by item.
    """
    base = re.split(r"[?#]", url, maxsplit=1)[0]
    scheme, sep, rest = base.partition("://")
    if not sep:
        return base
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


redact_url = mask_url
"""The earlier name of :func:`mask_url`."""


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
            )
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        origin = f"{parts.scheme.lower()}://{host}" + (f":{parts.port}" if parts.port else "")
        name, version = parsed
        return cls(url=url, name=name, version=version, origin=origin, path=path)
