"""A bundle's wheel as the simple index keeps it: the wheel's bytes, their sha256, and its core
metadata (PEP 658: the wheel's ``*.dist-info/METADATA``, byte for byte).

Bundles store their entries uncompressed, so the wheel is copied out of the open bundle (the one
the caller validated, never the path again) into a temporary file, hashed on the way, and read
by the index writer from there; the temporary file is gone when the block ends.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import HeaderParser
from typing import IO, BinaryIO

from pipper.bundle import MAX_WHEEL_BYTES, WHEEL_ENTRY, BundleMeta
from pipper.errors import BundleError
from pipper.requirements import wheel_metadata

__all__ = ["IndexedWheel", "core_metadata", "upload_time", "wheel_of_bundle"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class IndexedWheel:
    """A wheel ready to be put in the index: ``file`` holds its bytes."""

    filename: str
    file: BinaryIO
    sha256: str
    size: int
    metadata: bytes
    requires_python: str | None
    upload_time: str


@contextmanager
def wheel_of_bundle(bundle: IO[bytes], meta: BundleMeta, where: str) -> Iterator[IndexedWheel]:
    """The wheel inside ``bundle`` (validated by the caller as ``meta``), in a temporary file."""
    try:
        bundle.seek(0)
        outer = zipfile.ZipFile(bundle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BundleError(f"{where}: cannot read the bundle: {exc}") from None
    with outer, tempfile.TemporaryFile(prefix="pipper-wheel-") as out:
        digest, size = hashlib.sha256(), 0
        limit = min(outer.getinfo(WHEEL_ENTRY).file_size, MAX_WHEEL_BYTES)
        try:
            with outer.open(WHEEL_ENTRY) as src:
                while chunk := src.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise BundleError(f"{where}: the wheel holds more bytes than it declares")
                    digest.update(chunk)
                    out.write(chunk)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise BundleError(f"{where}: the wheel is damaged: {exc}") from None
        out.flush()
        metadata = core_metadata(out, where)
        headers = HeaderParser().parsestr(metadata.decode("utf-8", "replace"))
        requires = " ".join(str(headers.get("Requires-Python") or "").split())
        yield IndexedWheel(
            filename=meta.wheel_name,
            file=out,
            sha256=digest.hexdigest(),
            size=size,
            metadata=metadata,
            requires_python=requires or None,
            upload_time=upload_time(meta.timestamp),
        )


def core_metadata(wheel: IO[bytes], where: str) -> bytes:
    """The bytes of the wheel's one top-level ``*.dist-info/METADATA`` (PEP 658's file)."""
    return wheel_metadata(wheel, where)


def upload_time(timestamp: str) -> str:
    """A bundle's ``timestamp`` as PEP 700 writes times (``2026-01-28T10:00:00.000000Z``); the
    time now when the bundle has none that parses."""
    try:
        when = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        when = datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
