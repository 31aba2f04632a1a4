"""The bundles the simple index is made from: every one of the repository, and one opened.

``repository_bundles`` is the ONE enumeration ``pipper index rebuild`` and ``check`` use: every
bundle of every version, from the same listing the resolver makes: the version's
``<safe_version>.pipper`` and, for a version with several platform wheels, each
``<safe_version>.<tags>.variant`` beside it. The index has one entry per wheel, each naming its
bundle; a version's yank covers all of its wheels.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from pipper.bundle import BundleMeta, read_bundle
from pipper.errors import IntegrityError
from pipper.index import PackageIndex
from pipper.models import Candidate
from pipper.repositories import Repository
from pipper.simple.files import IndexedWheel, wheel_of_bundle
from pipper.storage.base import Storage
from pipper.versions import normalize_name
from pipper.yanks import read_yanks

__all__ = ["IndexedBundle", "opened_bundle", "repository_bundles"]


@dataclass(frozen=True)
class IndexedBundle:
    """A bundle as the index names it: its key and ETag, its package and version, its yank."""

    key: str
    etag: str
    name: str
    version: str
    yanked: bool = False
    yank_reason: str | None = None

    @property
    def project(self) -> str:
        return normalize_name(self.name)

    @classmethod
    def of(cls, candidate: Candidate, reason: str | None = None) -> IndexedBundle:
        return cls(
            key=candidate.key,
            etag=candidate.etag,
            name=candidate.name,
            version=candidate.version,
            yanked=candidate.yanked,
            yank_reason=reason,
        )


async def repository_bundles(storage: Storage, repository: Repository) -> list[IndexedBundle]:
    """Every bundle of the repository (yank reasons read), in key order."""
    index = PackageIndex(repository, storage, None, whole_prefix=True)
    projects: dict[str, str] = {}
    for folder in await index.package_names():
        projects.setdefault(normalize_name(folder), folder)
    candidates: list[Candidate] = []
    for folder in projects.values():
        candidates.extend(await index.versions(folder))
    yanks = await read_yanks(storage, candidates)
    found = []
    for c in candidates:
        reason = yanks[c.key].reason if c.key in yanks else None
        found.append(IndexedBundle.of(c, reason))
        found.extend(
            IndexedBundle(w.key, w.etag, c.name, c.version, c.yanked, reason)
            for w in c.wheels
            if w.key != c.key
        )
    return sorted(found, key=lambda b: b.key)


@asynccontextmanager
async def opened_bundle(
    storage: Storage, bundle: IndexedBundle
) -> AsyncIterator[tuple[BundleMeta, IndexedWheel]]:
    """Download ``bundle`` into a temporary file, check it (the object's ``sha256`` when it has
    one, every entry's CRC), and yield its meta and its wheel."""
    with tempfile.TemporaryDirectory(prefix="pipper-index-") as folder:
        path = Path(folder) / "bundle.pipper"
        digest = hashlib.sha256()
        with path.open("wb") as out:
            async with storage.get(bundle.key) as stream:
                expected = stream.metadata.get("sha256")
                async for chunk in stream.chunks():
                    digest.update(chunk)
                    out.write(chunk)
        if expected and expected != digest.hexdigest():
            raise IntegrityError(f"{bundle.key} does not match its sha256 metadata")
        meta = await anyio.to_thread.run_sync(
            lambda: read_bundle(
                path, expect_name=bundle.name, expect_version=bundle.version, whole=True
            )
        )
        with path.open("rb") as handle, wheel_of_bundle(handle, meta, bundle.key) as wheel:
            yield meta, wheel
