"""What versions of a package a repository holds, read from its key listing.

A package's versions are the keys under ``<prefix>/<name>/``; one listing gives every version's
key, size and ETag. Names are matched with PEP 503 normalisation, so ``Alpha-Pkg``, ``alpha_pkg``
and ``alpha.pkg`` find the same folder whichever spelling the original wrote. Each listing is
remembered in the cache, so an ``--offline`` run resolves with no network at all.

With ``whole_prefix`` (a resolving run), the first question lists the whole prefix in one request
of up to ``CATALOG_KEYS`` keys. A repository that fits (most do: 1,000 keys is hundreds of
packages) then answers every later question with no request at all, which takes one round trip
per level and one request per package off a cold run, and leaves a warm run one LIST in all.
A larger repository is remembered as such for a day and listed package by package. The simple
index (``<prefix>/~simple/``, see ``pipper.simple``) sorts after every package folder, so a
listing cut short inside it has already shown every bundle: it still answers for every package.

The same listing shows which versions are yanked: a yank marker (``<safe_version>.yanked``) sits
beside its bundle, so a candidate learns it is yanked with no request of its own. It also shows
every wheel of a version (``<safe_version>.<tags>.variant`` bundles, and a ``.primary`` marker
naming the tags of a platform wheel in the ``.pipper`` bundle): each candidate lists them in
``wheels``, and :func:`pipper.platforms.choose_wheels` picks one per target.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio
from packaging.version import Version

from pipper.cache import Cache
from pipper.errors import OfflineError
from pipper.keys import INDEX_FOLDER, index_prefix, parse_key, yanked_bundle_key
from pipper.models import Candidate, WheelObject
from pipper.repositories import Repository
from pipper.storage.base import ObjectInfo, Storage
from pipper.versions import normalize_name

log = logging.getLogger(__name__)

CATALOG_KEYS = 1000
_CATALOG = "@catalog"  # cache names that no PEP 503 name can take
_TOO_BIG = "@too-big"
_TOO_BIG_FOR = 86400.0


class PackageIndex:
    """Lists package versions from a store (or, offline, from remembered listings)."""

    def __init__(
        self,
        repository: Repository,
        storage: Storage | None,
        cache: Cache | None,
        *,
        offline: bool = False,
        whole_prefix: bool = False,
    ) -> None:
        self.repository = repository
        self.whole_prefix = whole_prefix
        self._catalog: dict[str, list[ObjectInfo]] | None = None
        self._catalog_tried = False
        self._ages: dict[str, float] | None = None  # of remembered listings, read once offline
        self._catalog_lock = anyio.Lock()
        self.storage = storage
        self.cache = cache
        self.offline = offline
        self.prefix = repository.root_prefix.strip("/")
        self._versions: dict[str, list[Candidate]] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._names: list[str] | None = None
        self.listings = 0

    def _package_prefix(self, name: str) -> str:
        return f"{self.prefix}/{name}/" if self.prefix else f"{name}/"

    async def package_names(self) -> list[str]:
        """Every package folder name in the repository, as written."""
        if self._names is None:
            if self.storage is None:
                raise OfflineError("listing every package needs the network")
            root = f"{self.prefix}/" if self.prefix else ""
            listing = await self.storage.list(root, delimiter="/")
            self.listings += 1
            names = (p[len(root) :].strip("/") for p in listing.prefixes)
            self._names = sorted(name for name in names if name != INDEX_FOLDER)
        return self._names

    async def versions(self, name: str) -> list[Candidate]:
        """Every parseable version of ``name``, oldest first; empty when there is none."""
        project = normalize_name(name)
        known = self._versions.get(project)
        if known is not None:
            return known
        lock = self._locks.setdefault(project, anyio.Lock())
        async with lock:
            if project not in self._versions:
                objects = await self._objects(name, project)
                self._versions[project] = self._candidates(objects)
        return self._versions[project]

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def _group(self, objects: Sequence[ObjectInfo]) -> dict[str, list[ObjectInfo]]:
        """Objects of a whole-prefix listing by package, keeping only ``<name>/<file>`` keys."""
        root = self._root()
        grouped: dict[str, list[ObjectInfo]] = {}
        for obj in objects:
            folder, sep, filename = obj.key[len(root) :].partition("/")
            if sep and filename and "/" not in filename and folder != INDEX_FOLDER:
                grouped.setdefault(normalize_name(folder), []).append(obj)
        return grouped

    async def _from_catalog(self, project: str) -> list[ObjectInfo] | None:
        """The package's objects from one listing of the whole prefix; None when too large."""
        async with self._catalog_lock:
            if not self._catalog_tried:
                self._catalog_tried = True
                self._catalog = await self._list_catalog()
        return None if self._catalog is None else self._catalog.get(project, [])

    async def _list_catalog(self) -> dict[str, list[ObjectInfo]] | None:
        assert self.storage is not None
        repo_id = self.repository.id
        age = self.cache.listing_age(repo_id, _TOO_BIG) if self.cache else None
        if age is not None and age < _TOO_BIG_FOR:
            return None
        listing = await self.storage.list(self._root(), limit=CATALOG_KEYS)
        self.listings += 1
        simple = index_prefix(self.prefix)
        # Every bundle key sorts before the index: cut short inside it, the listing is whole.
        past_bundles = bool(listing.objects) and listing.objects[-1].key >= simple
        if listing.truncated and not past_bundles:
            if self.cache is not None:
                self.cache.save_listing(repo_id, _TOO_BIG, [])
            return None
        bundles = [obj for obj in listing.objects if not obj.key.startswith(simple)]
        if self.cache is not None:
            self.cache.save_listing(repo_id, _CATALOG, bundles)
        return self._group(bundles)

    def _remembered(self, project: str) -> list[ObjectInfo] | None:
        """The newest remembered listing of a package: its own, or the whole prefix's."""
        if self.cache is None:
            return None
        repo_id = self.repository.id
        if self._ages is None:
            self._ages = self.cache.listing_ages(repo_id)  # one read of the folder, not a stat
        own_age, catalog_age = self._ages.get(project), self._ages.get(_CATALOG)
        if catalog_age is not None and (own_age is None or catalog_age < own_age):
            if not self._catalog_tried:
                self._catalog_tried = True
                catalog = self.cache.load_listing(repo_id, _CATALOG)
                self._catalog = self._group(catalog) if catalog is not None else None
            if self._catalog is not None:
                return self._catalog.get(project, [])
        return self.cache.load_listing(repo_id, project)

    async def _objects(self, name: str, project: str) -> list[ObjectInfo]:
        repo_id = self.repository.id
        if self.offline or self.storage is None:
            remembered = self._remembered(project)
            if remembered is None:
                raise OfflineError(
                    f"{name} is not in the cache: run the same command once without --offline"
                )
            return remembered
        if self.whole_prefix:
            found = await self._from_catalog(project)
            if found is not None:
                return found
        listing = await self.storage.list(self._package_prefix(name), delimiter="/")
        self.listings += 1
        objects = list(listing.objects)
        if not objects:
            for folder in await self.package_names():
                if folder != name and normalize_name(folder) == project:
                    more = await self.storage.list(self._package_prefix(folder), delimiter="/")
                    self.listings += 1
                    objects.extend(more.objects)
        if self.cache is not None:
            self.cache.save_listing(repo_id, project, objects)
        return objects

    def _candidates(self, objects: list[ObjectInfo]) -> list[Candidate]:
        """One candidate per ``.pipper`` bundle, with every wheel of its version in ``wheels``."""
        found: list[Candidate] = []
        markers = {
            bundle: obj
            for obj in objects
            if (bundle := yanked_bundle_key(self.prefix, obj.key)) is not None
        }
        marker_keys = {marker.key for marker in markers.values()}
        variants: dict[str, list[WheelObject]] = {}
        primary_tags: dict[str, str] = {}
        bundles: list[tuple[ObjectInfo, str, str]] = []
        for obj in objects:
            if obj.key in marker_keys:
                continue
            parsed = parse_key(self.prefix, obj.key)
            if parsed is None:
                log.warning("skipping %s: not a pipper bundle key", obj.key)
            elif parsed.kind == "bundle":
                bundles.append((obj, parsed.name, parsed.version))
            elif parsed.kind == "tags":
                primary_tags[parsed.primary] = parsed.tag_part or ""
            else:
                variants.setdefault(parsed.primary, []).append(
                    WheelObject(obj.key, obj.size, obj.etag, parsed.tag_part, obj.last_modified)
                )
        for obj, folder, version in bundles:
            tags = primary_tags.get(obj.key)
            own = WheelObject(obj.key, obj.size, obj.etag, tags, obj.last_modified)
            found.append(
                Candidate(
                    name=folder,
                    version=str(Version(version)),
                    key=obj.key,
                    size=obj.size,
                    etag=obj.etag,
                    last_modified=obj.last_modified,
                    yank=markers.get(obj.key),
                    tag_part=tags,
                    wheels=(own, *sorted(variants.get(obj.key, []), key=lambda w: w.key)),
                )
            )
        found.sort(key=lambda c: c.parsed)
        return found
