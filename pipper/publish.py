"""Publishing bundles: one object per version, never two publishers winning the same version.

The object is written with ``If-None-Match: *``, so the store itself refuses a second writer of
the same key (HTTP 412). A version that already exists under another spelling of its key (the
original wrote ``v1-2-0__pre_alpha_1``, we would write ``v1-2-0__pre_a1``) is caught by a listing
first. Stores that ignore conditional writes leave only that listing check: two publishers racing
there can both succeed, the last one's bytes winning.

What is uploaded is what was checked: the bundle is opened once, and that open file is validated,
hashed and uploaded, so a file swapped in at the path meanwhile is never published under its
predecessor's sha256. The upload carries the MD5 of the bytes that were hashed (``Content-MD5``),
so a file rewritten in place while it is read is refused by the store itself. A store's ``put``
returns only once the object is really there (see ``S3Storage.put``).

Once the bundle is in, its wheel goes into the repository's simple index (``pipper.simple``),
from the same open file; ``index=False`` (``--no-index``) leaves the index alone. A failure there
does not take the bundle back: it is reported (``index_error``) for ``pipper index rebuild``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import anyio
from packaging.version import Version

from pipper import simple
from pipper.bundle import BundleMeta, read_bundle, s3_metadata
from pipper.catalog import tags_of_bundle
from pipper.errors import BundleError, NotFoundError, PipperError, UsageError, VersionExistsError
from pipper.index import PackageIndex
from pipper.keys import (
    bundle_key,
    is_pure_wheel,
    local_tag_part,
    primary_tags_key,
    variant_key,
    wheel_tag_part,
)
from pipper.models import Candidate
from pipper.repositories import Repository
from pipper.simple import IndexedBundle
from pipper.storage.base import Storage
from pipper.yanks import read_yank


class AlreadyPublishedError(VersionExistsError):
    """The version is in the repository already; the command decides whether that is an error."""

    def __init__(self, name: str, version: str, key: str, wheel: str | None = None) -> None:
        what = f"{name} {version}" + (f" ({wheel})" if wheel else "")
        super().__init__(f"{what} is already published ({key}); pass --force to replace it")
        self.name = name
        self.version = version
        self.key = key
        self.wheel = wheel


@dataclass(frozen=True)
class Published:
    name: str
    version: str
    key: str
    sha256: str
    size: int
    replaced: bool
    wheel: str = ""
    indexed: bool = False
    index_error: str | None = None


def bundles_in(path: Path) -> list[Path]:
    """A bundle file, or every ``*.pipper`` in a folder: each version's pure wheel before its
    platform wheels, so it is the one the original reads where a version is new."""
    if path.is_dir():
        found = sorted(path.glob("*.pipper"), key=lambda p: (local_tag_part(p.name) is not None, p))
        if not found:
            raise UsageError(f"no .pipper files in {path}")
        return found
    if not path.is_file():
        raise UsageError(f"no such bundle: {path}")
    return [path]


@dataclass(frozen=True)
class _Checked:
    """One open bundle, validated and hashed: what is uploaded is exactly this file."""

    meta: BundleMeta
    sha256: str
    md5: str  # base64, as Content-MD5 wants it
    size: int


def _open_bundle(path: Path) -> BinaryIO:
    """Open ``path`` for reading, refusing anything but a regular file (a FIFO would block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such bundle") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the bundle: {exc.strerror or exc}") from None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise BundleError(f"{path}: not a regular file")
    return handle


def _check(path: Path, handle: BinaryIO) -> _Checked:
    """Validate the open bundle, then hash it (sha256 and MD5 in one pass over its bytes)."""
    meta = read_bundle(path, file=handle)
    handle.seek(0)
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    while chunk := handle.read(1 << 22):
        sha256.update(chunk)
        md5.update(chunk)
        size += len(chunk)
    return _Checked(meta, sha256.hexdigest(), base64.b64encode(md5.digest()).decode(), size)


async def publish(
    storage: Storage,
    repository: Repository,
    path: Path,
    *,
    force: bool = False,
    index: bool = True,
) -> Published:
    with _open_bundle(path) as handle:
        checked = await anyio.to_thread.run_sync(_check, path, handle)
        placed = await _upload(storage, repository, handle, checked, force=force)
        if not index:
            return placed.published
        return await _index(storage, repository, handle, checked, placed)


@dataclass(frozen=True)
class _Placed:
    """Where the bundle went, its ETag, and the version's listing before it went there."""

    published: Published
    etag: str
    version: Candidate | None


async def _index(
    storage: Storage, repository: Repository, handle: BinaryIO, checked: _Checked, placed: _Placed
) -> Published:
    """Add the bundle's wheel to the simple index; a failure is reported, never raised."""
    published, version = placed.published, placed.version
    yanked = version is not None and version.yanked  # a version's yank covers all its wheels
    yank = await read_yank(storage, version) if version is not None and yanked else None
    reason = yank.reason if yank is not None else None
    meta = checked.meta
    bundle = IndexedBundle(published.key, placed.etag, meta.name, meta.version, yanked, reason)
    try:
        await simple.add(storage, repository, bundle, handle, meta)
    except PipperError as exc:
        return replace(published, index_error=str(exc))
    return replace(published, indexed=True)


async def _upload(
    storage: Storage, repository: Repository, handle: BinaryIO, checked: _Checked, *, force: bool
) -> _Placed:
    """Put the bundle where its wheel belongs: the version's ``.pipper`` key when the version
    is new (or holds this very wheel), else a variant key of its own beside it.

    Every write is conditional (``If-None-Match: *`` unless ``--force``), so two publishers of
    different wheels of one new version both succeed: the one that loses the race for the
    ``.pipper`` key learns whose wheel is there and writes a variant instead.
    """
    meta = checked.meta
    pure = is_pure_wheel(meta.wheel_name)
    shown = None if pure else meta.wheel_name  # messages name the wheel where there may be several
    index = PackageIndex(repository, storage, None)
    existing = [c for c in await index.versions(meta.name) if c.parsed == Version(meta.version)]
    if not existing:
        key = bundle_key(repository.root_prefix, meta.name, meta.version)
        try:
            etag = await _put(storage, key, handle, checked, if_absent=True)
        except VersionExistsError:
            index = PackageIndex(repository, storage, None)  # someone else's wheel won the key
            existing = [
                c for c in await index.versions(meta.name) if c.parsed == Version(meta.version)
            ]
            if not existing:
                raise
        else:
            if not pure:
                await _put_tags(storage, key, meta.wheel_name)
            return _placed(checked, key, etag, None, replaced=False)
    version = existing[0]
    primary_tags = version.tag_part or await tags_of_bundle(storage, version.key)
    if primary_tags == wheel_tag_part(meta.wheel_name) or (primary_tags is None and pure):
        if not force:
            raise AlreadyPublishedError(meta.name, meta.version, version.key, shown)
        etag = await _put(storage, version.key, handle, checked, if_absent=False)
        if not pure:
            await _put_tags(storage, version.key, meta.wheel_name)
        return _placed(checked, version.key, etag, version, replaced=True)
    key = variant_key(version.key, meta.wheel_name)
    there = any(w.key == key for w in version.wheels)
    if there and not force:
        raise AlreadyPublishedError(meta.name, meta.version, key, shown)
    try:
        etag = await _put(storage, key, handle, checked, if_absent=not force)
    except VersionExistsError:
        raise AlreadyPublishedError(meta.name, meta.version, key, shown) from None
    return _placed(checked, key, etag, version, replaced=there)


async def _put(
    storage: Storage, key: str, handle: BinaryIO, checked: _Checked, *, if_absent: bool
) -> str:
    handle.seek(0)
    return await storage.put(
        key,
        handle,
        s3_metadata(checked.meta, checked.sha256),
        if_absent=if_absent,
        content_md5=checked.md5,
    )


async def _put_tags(storage: Storage, key: str, wheel_name: str) -> None:
    """Name the tags of the platform wheel the ``.pipper`` bundle holds, so a listing shows
    them; a run without the marker takes the bundle to fit every target."""
    body = json.dumps({"wheel_name": wheel_name}).encode()
    marker = primary_tags_key(key, wheel_tag_part(wheel_name))
    await storage.put(marker, io.BytesIO(body), {}, if_absent=False)


def _placed(
    checked: _Checked, key: str, etag: str, version: Candidate | None, *, replaced: bool
) -> _Placed:
    meta = checked.meta
    published = Published(
        meta.name, meta.version, key, checked.sha256, checked.size, replaced, meta.wheel_name
    )
    return _Placed(published, etag, version)
