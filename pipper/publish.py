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
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import anyio
from packaging.version import Version

from pipper import simple
from pipper.bundle import BundleMeta, read_bundle, s3_metadata
from pipper.errors import BundleError, NotFoundError, PipperError, UsageError, VersionExistsError
from pipper.index import PackageIndex
from pipper.keys import bundle_key
from pipper.repositories import Repository
from pipper.simple import IndexedBundle
from pipper.storage.base import Storage
from pipper.yanks import read_yank


class AlreadyPublishedError(VersionExistsError):
    """The version is in the repository already; the command decides whether that is an error."""

    def __init__(self, name: str, version: str, key: str) -> None:
        super().__init__(
            f"{name} {version} is already published ({key}); pass --force to replace it"
        )
        self.name = name
        self.version = version
        self.key = key


@dataclass(frozen=True)
class Published:
    name: str
    version: str
    key: str
    sha256: str
    size: int
    replaced: bool
    indexed: bool = False
    index_error: str | None = None


def bundles_in(path: Path) -> list[Path]:
    """A bundle file, or every ``*.pipper`` in a folder, sorted."""
    if path.is_dir():
        found = sorted(path.glob("*.pipper"))
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
        return await _upload(storage, repository, handle, checked, force=force, index=index)


async def _upload(
    storage: Storage,
    repository: Repository,
    handle: BinaryIO,
    checked: _Checked,
    *,
    force: bool,
    index: bool,
) -> Published:
    meta, digest = checked.meta, checked.sha256
    key = bundle_key(repository.root_prefix, meta.name, meta.version)
    versions = PackageIndex(repository, storage, None)
    existing = [c for c in await versions.versions(meta.name) if c.parsed == Version(meta.version)]
    if existing and not force:
        raise AlreadyPublishedError(meta.name, meta.version, existing[0].key)
    try:
        etag = await storage.put(
            key, handle, s3_metadata(meta, digest), if_absent=not force, content_md5=checked.md5
        )
    except VersionExistsError:
        raise AlreadyPublishedError(meta.name, meta.version, key) from None
    published = Published(meta.name, meta.version, key, digest, checked.size, bool(existing))
    if not index:
        return published
    yanks = [c for c in existing if c.key == key and c.yanked]  # a marker outlives --force
    yank = await read_yank(storage, yanks[0]) if yanks else None
    reason = yank.reason if yank is not None else None
    bundle = IndexedBundle(key, etag, meta.name, meta.version, bool(yanks), reason)
    try:
        await simple.add(storage, repository, bundle, handle, meta)
    except PipperError as exc:
        return replace(published, index_error=str(exc))
    return replace(published, indexed=True)
