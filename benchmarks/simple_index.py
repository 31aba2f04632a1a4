"""A static PEP 503 + PEP 658 index of a graph's wheels, written into a bucket.

This is what a team that skips pipper would publish for uv: the very wheels inside the
bundles, a page per project linking them with their sha256, and each wheel's METADATA beside
it as ``<wheel>.metadata`` (PEP 658, announced by ``data-core-metadata``), so the installer
resolves from small files and fetches each wheel once. Pages are ``<project>/index.html``
objects, served for ``<project>/`` by ``benchmarks.website``.
"""

from __future__ import annotations

import hashlib
import html
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from benchmarks.s3http import put_many
from pipper.bundle import extract_wheel
from tests.lib.s3servers import S3Server

PAGES = "simple/"
FILES = "files/"


def publish(server: S3Server, bucket: str, bundles: Sequence[Path]) -> int:
    """Write the index of every wheel in ``bundles``; the number of projects."""
    with tempfile.TemporaryDirectory(prefix="pipper-bench-index-") as tmp:
        wheels = [extract_wheel(bundle, Path(tmp)) for bundle in bundles]
        links: dict[str, list[str]] = defaultdict(list)
        objects: list[tuple[str, bytes, str]] = []
        for wheel in wheels:
            body = wheel.read_bytes()
            metadata = _metadata(wheel)
            project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
            objects.append((FILES + wheel.name, body, "application/octet-stream"))
            objects.append((f"{FILES}{wheel.name}.metadata", metadata, "text/plain"))
            links[project].append(
                f'<a href="../../{FILES}{wheel.name}#sha256={_sha256(body)}" '
                f'data-core-metadata="sha256={_sha256(metadata)}" '
                f'data-dist-info-metadata="sha256={_sha256(metadata)}">{wheel.name}</a>'
            )
        for page, anchors in links.items():
            objects.append((f"{PAGES}{page}/index.html", _page(page, anchors), "text/html"))
        root = [f'<a href="{page}/">{page}</a>' for page in sorted(links)]
        objects.append((f"{PAGES}index.html", _page("Simple index", root), "text/html"))
        put_many(server, bucket, objects)
    return len(links)


def _metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return zf.read(name)


def _page(title: str, anchors: list[str]) -> bytes:
    lines: Iterator[str] = (f"    {a}<br/>" for a in anchors)
    text = (
        f"<!DOCTYPE html>\n<html>\n  <head><title>{html.escape(title)}</title>"
        '<meta name="pypi:repository-version" content="1.0"></head>\n  <body>\n'
        + "\n".join(lines)
        + "\n  </body>\n</html>\n"
    )
    return text.encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
