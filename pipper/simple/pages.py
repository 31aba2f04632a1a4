"""The simple index's pages: PEP 503 HTML and PEP 691 JSON, rendered and read back. Pure.

A project page lists one entry per wheel file (``IndexFile``), keyed by file name, never one per
version: a version may hold several wheels (one per platform), each from its own bundle. Every
entry carries what PEP 503/592/658/691/700 let an installer use without another request: the
wheel's sha256 (the URL fragment in HTML, ``hashes`` in JSON), ``requires-python``, the sha256
of its core metadata (``data-core-metadata``; ``data-dist-info-metadata`` too, for pip before
23.3 and uv releases that read the older name), the yanked state and reason, size and upload time.

The JSON page (``index.json``) is the truth the writer updates: besides the standard fields it
keeps, under keys PEP 691 reserves for private use (``_``), the bundle each entry was made from
and that bundle's ETag, so ``pipper index check`` tells a bundle replaced since it was indexed
from one listing, and the page's ``_last-serial``, which grows with every write. The HTML page
and the copy at ``<project>/`` are rendered from it and carry the same serial, so a writer brings
them up to date without ever putting an older state over a newer one.

Pages are read back from a bucket anyone with write access can edit: parsing is bounded
(``MAX_PAGE_BYTES``, ``pipper.jsonio``) and anything unexpected is ``IndexPageError``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from packaging.version import InvalidVersion, Version

from pipper.errors import PipperError
from pipper.jsonio import JsonError, parse_json

__all__ = [
    "API_VERSION",
    "HTML_TYPE",
    "JSON_TYPE",
    "MAX_PAGE_BYTES",
    "IndexFile",
    "IndexPageError",
    "ProjectPage",
    "RootPage",
    "find_links_html",
    "html_serial",
    "json_serial",
    "parse_project",
    "parse_root",
    "project_html",
    "project_json",
    "root_html",
    "root_json",
]

API_VERSION = "1.1"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html"
MAX_PAGE_BYTES = 32 * 1024 * 1024
_SERIAL = re.compile(rb'<meta name="pipper:serial" content="([0-9]{1,20})">')


class IndexPageError(PipperError):
    """A page of the index is not one pipper wrote (edited by hand, damaged, too large)."""


@dataclass(frozen=True)
class IndexFile:
    """One wheel of a project page, and the bundle it was made from."""

    filename: str
    version: str
    sha256: str
    size: int
    metadata_sha256: str
    bundle: str
    bundle_etag: str
    requires_python: str | None = None
    yanked: bool = False
    yank_reason: str | None = None
    upload_time: str | None = None

    @property
    def url(self) -> str:
        """Relative to the page (``<project>/``, ``<project>/index.html``): beside it."""
        return quote(self.filename)

    def json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "filename": self.filename,
            "url": self.url,
            "hashes": {"sha256": self.sha256},
            "requires-python": self.requires_python,
            "core-metadata": {"sha256": self.metadata_sha256},
            "dist-info-metadata": {"sha256": self.metadata_sha256},
            "yanked": (self.yank_reason or True) if self.yanked else False,
            "size": self.size,
        }
        if self.upload_time:
            entry["upload-time"] = self.upload_time
        entry["_pipper"] = {
            "version": self.version,
            "bundle": self.bundle,
            "bundle-etag": self.bundle_etag,
        }
        return entry

    def anchor(self, *, href: str | None = None, core_metadata: bool = True) -> str:
        """The entry as a PEP 503 ``<a>`` (``href``: another URL, as a find-links page uses)."""
        attributes = [f'href="{html.escape(href or self.url)}#sha256={self.sha256}"']
        if self.requires_python:
            attributes.append(f'data-requires-python="{html.escape(self.requires_python)}"')
        if core_metadata:
            value = f"sha256={self.metadata_sha256}"
            attributes += [f'data-core-metadata="{value}"', f'data-dist-info-metadata="{value}"']
        if self.yanked:
            attributes.append(f'data-yanked="{html.escape(self.yank_reason or "")}"')
        return f"<a {' '.join(attributes)}>{html.escape(self.filename)}</a>"


@dataclass(frozen=True)
class ProjectPage:
    """A project's files (PEP 503 name), in version then file name order."""

    name: str
    files: tuple[IndexFile, ...] = ()
    serial: int = 0

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.files, key=lambda f: (_version_key(f.version), f.filename)))
        object.__setattr__(self, "files", ordered)

    def by_bundle(self) -> dict[str, IndexFile]:
        return {f.bundle: f for f in self.files}

    def changed(self, files: Iterable[IndexFile]) -> ProjectPage:
        """The page with ``files`` instead, one serial on."""
        return replace(self, files=tuple(files), serial=self.serial + 1)


@dataclass(frozen=True)
class RootPage:
    """Every project with at least one file; ``folder_pages``: whether the store holds the
    pages at keys ending in ``/`` (learned on the first write; SeaweedFS does not)."""

    projects: tuple[str, ...] = ()
    serial: int = 0
    folder_pages: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "projects", tuple(sorted(set(self.projects))))


def project_json(page: ProjectPage) -> bytes:
    versions = sorted({f.version for f in page.files}, key=_version_key)
    document = {
        "meta": {"api-version": API_VERSION, "_last-serial": page.serial},
        "name": page.name,
        "versions": versions,
        "files": [f.json() for f in page.files],
    }
    return _dump(document)


def project_html(page: ProjectPage) -> bytes:
    links = "\n".join(f"    {f.anchor()}<br/>" for f in page.files)
    return _html(f"Links for {page.name}", page.serial, links)


def root_json(root: RootPage) -> bytes:
    document = {
        "meta": {"api-version": API_VERSION, "_last-serial": root.serial},
        "projects": [{"name": name} for name in root.projects],
        "_pipper": {"folder-pages": root.folder_pages},
    }
    return _dump(document)


def root_html(root: RootPage) -> bytes:
    links = "\n".join(
        f'    <a href="{quote(name)}/">{html.escape(name)}</a><br/>' for name in root.projects
    )
    return _html("Simple index", root.serial, links)


def find_links_html(entries: Sequence[tuple[str, IndexFile]]) -> bytes:
    """A flat page of ``(url, file)`` links for ``pip install --find-links``. No core-metadata
    attribute: pip would fetch ``<url>.metadata``, and a presigned URL with ``.metadata`` after
    its signature is no URL of anything."""
    links = "\n".join(
        f"    {file.anchor(href=url, core_metadata=False)}<br/>" for url, file in entries
    )
    return _html("Links", None, links)


def html_serial(data: bytes) -> int | None:
    """The serial a rendered HTML page carries, or None for a page pipper did not render."""
    match = _SERIAL.search(data[:4096])
    return int(match.group(1)) if match else None


def json_serial(data: bytes) -> int | None:
    """The serial of a JSON page pipper wrote, or None for any other content."""
    try:
        document = _load(data, "page")
    except IndexPageError:
        return None
    meta = document.get("meta")
    return _serial(document) if isinstance(meta, dict) and "_last-serial" in meta else None


def parse_project(data: bytes, where: str) -> ProjectPage:
    document = _load(data, where)
    name = document.get("name")
    files = document.get("files")
    if not isinstance(name, str) or not isinstance(files, list):
        raise IndexPageError(f"{where} is not a project page (no name or files)")
    return ProjectPage(name, tuple(_file(entry, where) for entry in files), _serial(document))


def parse_root(data: bytes, where: str) -> RootPage:
    document = _load(data, where)
    projects = document.get("projects")
    if not isinstance(projects, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) for p in projects
    ):
        raise IndexPageError(f"{where} is not a root page (no list of projects)")
    private = document.get("_pipper")
    folder_pages = not (isinstance(private, dict) and private.get("folder-pages") is False)
    return RootPage(tuple(p["name"] for p in projects), _serial(document), folder_pages)


def _file(entry: object, where: str) -> IndexFile:
    if not isinstance(entry, dict):
        raise IndexPageError(f"{where}: a file entry is not an object")
    private, hashes = _object(entry.get("_pipper")), _object(entry.get("hashes"))
    metadata = _object(entry.get("core-metadata"))
    try:
        yanked = entry.get("yanked", False)
        requires = entry.get("requires-python")
        upload = entry.get("upload-time")
        file = IndexFile(
            filename=_text(entry["filename"]),
            version=_text(private["version"]),
            sha256=_text(hashes["sha256"]),
            size=int(entry["size"]),
            metadata_sha256=_text(metadata["sha256"]),
            bundle=_text(private["bundle"]),
            bundle_etag=_text(private["bundle-etag"]),
            requires_python=requires if isinstance(requires, str) else None,
            yanked=yanked is not False,
            yank_reason=yanked if isinstance(yanked, str) and yanked else None,
            upload_time=upload if isinstance(upload, str) else None,
        )
    except (KeyError, TypeError, ValueError):
        raise IndexPageError(f"{where}: a file entry is not one pipper wrote") from None
    if "/" in file.filename or file.filename.startswith("."):
        raise IndexPageError(f"{where}: {file.filename!r} is not a plain file name")
    return file


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _load(data: bytes, where: str) -> dict[str, Any]:
    if len(data) > MAX_PAGE_BYTES:
        raise IndexPageError(f"{where} is larger than {MAX_PAGE_BYTES} bytes")
    try:
        document = parse_json(data)
    except JsonError as exc:
        raise IndexPageError(exc.at(where)) from None
    if not isinstance(document, dict):
        raise IndexPageError(f"{where} is not a JSON object")
    return document


def _serial(document: Mapping[str, Any]) -> int:
    meta = document.get("meta")
    serial = meta.get("_last-serial") if isinstance(meta, dict) else None
    return serial if isinstance(serial, int) and serial >= 0 else 0


def _dump(document: Mapping[str, Any]) -> bytes:
    import json

    return (json.dumps(document, indent=1, ensure_ascii=True) + "\n").encode()


def _html(title: str, serial: int | None, links: str) -> bytes:
    serial_line = "" if serial is None else f'    <meta name="pipper:serial" content="{serial}">\n'
    text = (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta charset="utf-8">\n'
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"{serial_line}"
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{links}\n  </body>\n</html>\n"
    )
    return text.encode()


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
