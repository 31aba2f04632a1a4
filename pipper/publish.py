"""Publishing bundles: one object per version, never two publishers winning the same version.

The object is written with ``If-None-Match: *``, so the store itself refuses a second writer of
the same key (HTTP 412). A version that already exists under another spelling of its key (the
original wrote ``v1-2-0__pre_alpha_1``, we would write ``v1-2-0__pre_a1``) is caught by a listing
first. Stores that ignore conditional writes leave only that listing check: two publishers racing
there can both succeed, the last one's bytes winning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio
from packaging.version import Version

from pipper.bundle import read_bundle, s3_metadata
from pipper.cache import sha256_file
from pipper.errors import UsageError, VersionExistsError
from pipper.index import PackageIndex
from pipper.keys import bundle_key
from pipper.repositories import Repository
from pipper.storage.base import Storage


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


async def publish(
    storage: Storage, repository: Repository, path: Path, *, force: bool = False
) -> Published:
    meta = await anyio.to_thread.run_sync(read_bundle, path)
    digest = await anyio.to_thread.run_sync(sha256_file, path)
    key = bundle_key(repository.root_prefix, meta.name, meta.version)
    index = PackageIndex(repository, storage, None)
    existing = [c for c in await index.versions(meta.name) if c.parsed == Version(meta.version)]
    if existing and not force:
        raise AlreadyPublishedError(meta.name, meta.version, existing[0].key)
    try:
        await storage.put(key, path, s3_metadata(meta, digest), if_absent=not force)
    except VersionExistsError:
        raise AlreadyPublishedError(meta.name, meta.version, key) from None
    return Published(meta.name, meta.version, key, digest, path.stat().st_size, bool(existing))
