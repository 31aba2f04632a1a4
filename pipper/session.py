"""One run of resolve-and-download: the core that ``download``, ``install``, ``lock`` and
``cache warm`` share.

A ``Session`` owns the run's store connection, its cache and one task group. The resolver asks it
for a candidate's dependencies; the first time it is asked, the session starts that bundle's job:
a cache hit (found from the listing's ETag alone, then rehashed) or a GET whose response headers
already carry the dependencies in the ``package`` metadata, so the walk goes on while the body
streams to disk. Jobs are keyed by object key, so no bundle is fetched twice in one run.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import anyio
from anyio.abc import TaskGroup
from packaging.version import Version

from pipper.bundle import BundleMeta, extract_wheel, read_bundle
from pipper.cache import Cache, CacheHold, sha256_file
from pipper.concurrency import task_group
from pipper.config import Credentials, Repository
from pipper.downloader import Downloader, Fetched, Source, from_cache
from pipper.errors import (
    BundleError,
    IntegrityError,
    NotFoundError,
    OfflineError,
    PipperError,
    ResolutionError,
)
from pipper.fsutil import atomic_link_or_copy
from pipper.index import Candidate, PackageIndex
from pipper.lock import Lock, LockedPackage
from pipper.resolver import Resolution, Resolver
from pipper.specs import PackageId, parse_package_ids
from pipper.storage import Storage, open_storage
from pipper.versions import normalize_name
from pipper.yanks import warn_locked, warn_yanked

log = logging.getLogger(__name__)


class Progress:
    """Receives events of a run; the command line draws them, the default ignores them."""

    def package(self, candidate: Candidate, source: str) -> None: ...

    def bytes(self, count: int) -> None: ...

    def total(self, packages: int) -> None: ...


@dataclass(frozen=True)
class Package:
    """A resolved package with its bundle in the cache.

    ``source`` is ``"installed"`` for a package the target environment already has at the chosen
    version: its dependencies were read from the object's metadata and its body never fetched,
    so ``path`` and ``meta`` are ``None``.
    """

    candidate: Candidate
    digest: str
    path: Path | None
    source: Source | Literal["installed"]
    meta: BundleMeta | None
    dependencies: tuple[str, ...]
    required_by: tuple[str | None, ...]

    @property
    def filename(self) -> str:
        """``<name>-<safe_version>.pipper``: the key's own file name, so one bundle has one name."""
        return f"{self.candidate.name}-{self.candidate.key.rsplit('/', 1)[-1]}"


@dataclass
class RunResult:
    packages: dict[str, Package]
    rounds: int
    depth: int
    timings: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    listings: int = 0
    retries: int = 0
    bytes_fetched: int = 0

    @property
    def from_network(self) -> int:
        return sum(1 for p in self.packages.values() if p.source == "network")


class LocalSource(Protocol):
    """Bundles on disk that take precedence over the repository (``install --from DIR``)."""

    def has(self, project: str) -> bool: ...

    def versions(self, project: str) -> list[Candidate]: ...

    def path(self, candidate: Candidate) -> Path: ...

    def describe(self) -> str: ...

    @property
    def root(self) -> Path:
        """A folder of the source, named where a repository location is needed."""
        ...


class _Job:
    def __init__(self) -> None:
        self.headers = anyio.Event()
        self.done = anyio.Event()
        self.metadata: Mapping[str, str] = {}
        self.fetched: Fetched | None = None
        self.kept = False
        self.error: BaseException | None = None


class Session:
    _hold: CacheHold | None = None
    """The shared cache lock, from the first run until ``close()`` (see ``cache``)."""

    def __init__(
        self,
        repository: Repository,
        cache: Cache,
        *,
        credentials: Credentials | None = None,
        concurrency: int = 32,
        offline: bool = False,
        pre: bool = False,
        progress: Progress | None = None,
        installed: Mapping[str, str] | None = None,
        local: LocalSource | None = None,
        remote: bool = True,
    ) -> None:
        """``local`` bundles answer for every package they hold any version of; ``remote=False``
        keeps the run off the repository entirely (a vendored folder decides alone)."""
        self.repository = repository
        self.local = local
        self.remote = remote
        self.cache = cache
        self.credentials = credentials
        self.concurrency = concurrency
        self.offline = offline
        self.pre = pre
        self.progress = progress or Progress()
        self.installed = {k: Version(v) for k, v in (installed or {}).items()}
        self._jobs: dict[str, _Job] = {}
        self._tg: TaskGroup | None = None
        self._downloader: Downloader | None = None
        self.storage: Storage | None = None

    async def resolve(
        self, roots: Sequence[PackageId], *, prefer: Mapping[str, str] | None = None
    ) -> RunResult:
        """Resolve ``roots`` and bring every bundle of the graph into the cache.

        Ids that are bundle URLs (``PackageId.url``) are fetched as they are: see ``fetch_urls``.
        """
        await self.hold_cache()
        if any(root.url is not None for root in roots):
            return await self.fetch_urls(roots, prefer=prefer)
        started = time.perf_counter()
        async with AsyncExitStack() as stack:
            if not self.offline and self.remote:
                self.storage = await stack.enter_async_context(
                    open_storage(self.repository, self.credentials, concurrency=self.concurrency)
                )
                self._downloader = Downloader(
                    self.storage, self.cache, self.repository.id, on_bytes=self.progress.bytes
                )
            index = PackageIndex(
                self.repository, self.storage, self.cache, offline=self.offline, whole_prefix=True
            )

            async def versions(name: str) -> list[Candidate]:
                if self._is_local(normalize_name(name)):
                    assert self.local is not None
                    return self.local.versions(normalize_name(name))
                return await index.versions(name) if self.remote else []

            where = self.local.describe() if self.local and not self.remote else "the repository"
            async with task_group() as tg:
                self._tg = tg
                resolver = Resolver(
                    versions, self.dependencies, pre=self.pre, prefer=prefer, where=where
                )
                resolution = await resolver.resolve(roots)
                resolved_at = time.perf_counter()
                chosen = [node.candidate for node in resolution.nodes.values()]
                await warn_yanked(self.storage, chosen, "it is used because a requirement pins it")
                self.progress.total(len(resolution.nodes))
                packages = await self._collect(resolution)
                tg.cancel_scope.cancel()
            requests = getattr(self.storage, "requests", 0)
        finished = time.perf_counter()
        return RunResult(
            packages=packages,
            rounds=resolution.rounds,
            depth=resolution.depth,
            timings={
                "resolve": round(resolved_at - started, 4),
                "total": round(finished - started, 4),
            },
            requests=requests,
            listings=index.listings,
            retries=(self._downloader.retries if self._downloader else 0)
            + getattr(self.storage, "retries", 0),
            bytes_fetched=self._downloader.bytes if self._downloader else 0,
        )

    async def _collect(self, resolution: Resolution) -> dict[str, Package]:
        packages: dict[str, Package] = {}
        for key, node in resolution.nodes.items():
            job = self._job(node.candidate)
            await job.done.wait()
            if job.kept:
                packages[key] = Package(
                    candidate=node.candidate,
                    digest=job.metadata.get("sha256", ""),
                    path=None,
                    source="installed",
                    meta=None,
                    dependencies=node.dependencies,
                    required_by=node.required_by,
                )
                continue
            fetched = await self._finished(node.candidate)
            packages[key] = Package(
                candidate=node.candidate,
                digest=fetched.digest,
                path=fetched.path,
                source=fetched.source,
                meta=fetched.meta,
                dependencies=node.dependencies,
                required_by=node.required_by,
            )
            try:
                declared = {d.key for d in parse_package_ids(fetched.meta.dependencies)}
            except PipperError as exc:
                raise BundleError(
                    f"{node.candidate.key} declares an invalid dependency: {exc}"
                ) from None
            if declared != set(node.dependencies):
                raise BundleError(
                    f"{node.candidate.key}: its S3 metadata and its package.meta name "
                    "different dependencies"
                )
        return packages

    # -- jobs ----------------------------------------------------------------------------------

    def _job(self, candidate: Candidate) -> _Job:
        job = self._jobs.get(candidate.key)
        if job is None:
            job = self._jobs[candidate.key] = _Job()
            assert self._tg is not None
            self._tg.start_soon(self._run_job, candidate, job)
        return job

    def _is_local(self, project: str) -> bool:
        return self.local is not None and self.local.has(project)

    async def _run_job(self, candidate: Candidate, job: _Job) -> None:
        try:
            if self._is_local(candidate.project):
                job.fetched = await self._fetch_local(candidate)
                return
            if self.installed.get(candidate.project) == candidate.parsed and await self._keep(
                candidate, job
            ):
                return
            job.fetched = await self._fetch(candidate, job)
        except Exception as exc:
            job.error = exc
        finally:
            job.headers.set()
            job.done.set()

    async def _keep(self, candidate: Candidate, job: _Job) -> bool:
        """Learn an installed package's dependencies from one HEAD instead of its body."""
        if self.storage is None or self.cache.lookup(
            self.repository.id, candidate.key, candidate.etag
        ):
            return False
        _, metadata = await self.storage.head(candidate.key)
        if _dependencies_from_metadata(metadata) is None:
            return False
        job.metadata = metadata
        job.kept = True
        self.progress.package(candidate, "installed")
        return True

    async def _fetch_local(self, candidate: Candidate) -> Fetched:
        assert self.local is not None
        path = self.local.path(candidate)
        meta = await anyio.to_thread.run_sync(
            lambda: read_bundle(path, expect_name=candidate.name, expect_version=candidate.version)
        )
        digest = await anyio.to_thread.run_sync(sha256_file, path)
        self.progress.package(candidate, "local")
        return Fetched(candidate, digest, path, "local", meta)

    async def _fetch(self, candidate: Candidate, job: _Job) -> Fetched:
        digest = self.cache.lookup(self.repository.id, candidate.key, candidate.etag)
        if digest is not None:
            found = await from_cache(self.cache, digest, candidate)
            if found is not None:
                self.progress.package(candidate, "cache")
                return found
            log.warning("cache entry for %s was damaged; fetching it again", candidate.key)
        if self._downloader is None:
            raise OfflineError(
                f"{candidate} is not in the cache: run the same command once without --offline"
            )

        def headers_arrived(metadata: Mapping[str, str]) -> None:
            job.metadata = metadata
            job.headers.set()

        fetched = await self._downloader.fetch(candidate, on_metadata=headers_arrived)
        self.progress.package(candidate, "network")
        return fetched

    async def _finished(self, candidate: Candidate) -> Fetched:
        job = self._job(candidate)
        await job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.fetched is not None
        return job.fetched

    async def dependencies(self, candidate: Candidate) -> list[PackageId]:
        """A candidate's dependencies, from its response headers when they carry them."""
        job = self._job(candidate)
        await job.headers.wait()
        if job.error is not None:
            raise job.error
        raw = _dependencies_from_metadata(job.metadata)
        if raw is None:
            raw = list((await self._finished(candidate)).meta.dependencies)
        try:
            return parse_package_ids(raw)
        except PipperError as exc:
            raise BundleError(f"{candidate.key} declares an invalid dependency: {exc}") from None

    # -- the cache lock ------------------------------------------------------------------------

    async def hold_cache(self, timeout: float = 600.0) -> None:
        """Hold the cache's shared lock until ``close()``, so ``cache prune`` waits for this run.

        Only a prune holds the lock exclusively, and only for the moments it takes; a run that
        meets one waits for it rather than watching entries vanish.
        """
        if self._hold is not None and self._hold.held:
            return
        deadline = anyio.current_time() + timeout
        told = False
        while (hold := self.cache.try_hold()) is None:
            if not told:
                log.warning("waiting for 'pipper cache prune' to finish with %s", self.cache.root)
                told = True
            if anyio.current_time() >= deadline:
                raise PipperError(
                    f"the cache {self.cache.root} stayed locked by 'pipper cache prune' "
                    f"for {timeout:.0f} s"
                )
            await anyio.sleep(0.1)
        self._hold = hold

    def close(self) -> None:
        """Release the cache lock: call it once the run's files are no longer used.

        The paths in a ``RunResult`` point into the cache, so keep the session open while they
        are linked, copied or installed. A session that is never closed releases the lock when
        it is garbage collected or the process ends.
        """
        if self._hold is not None:
            self._hold.release()
            self._hold = None

    # -- a run from a lock file -----------------------------------------------------------------

    async def fetch_locked(self, lock: Lock) -> RunResult:
        """Bring exactly the lock's bundles into the cache: one round of GETs.

        The locked sha256 is the cache key, so a package the cache holds costs no request; the
        others are fetched all at once and must hash to the locked sha256. A package gone from
        the repository, or published again with other bytes, fails with its name. A yanked
        package is fetched all the same, with a warning: a run that fetches lists the prefix
        once alongside its GETs to learn that, a run the cache answers asks the cache's last
        listing (``releases.warn_locked``).
        """
        started = time.perf_counter()
        await self.hold_cache()
        if not lock.repository.same_place(self.repository):
            log.warning(
                "the lock was written for %s; fetching its packages from %s",
                lock.repository.id,
                self.repository.describe(),
            )
        self.progress.total(len(lock.packages))
        fetched: dict[str, Fetched] = {}
        missing: list[LockedPackage] = []

        async def from_cache(package: LockedPackage) -> None:
            hit = await self._locked_from_cache(package)
            if hit is None:
                missing.append(package)
            else:
                fetched[package.project] = hit

        async with task_group() as tg:
            for package in lock.packages:
                tg.start_soon(from_cache, package)
        requests = retries = fetched_bytes = 0
        if not missing:  # no request: yanks as the cache's last listing shows them
            await warn_locked(self.repository, None, self.cache, lock.packages)
        elif self.offline:
            names = ", ".join(sorted(str(p) for p in missing))
            raise OfflineError(
                f"not in the cache: {names}; run 'pipper cache warm --lock' once online"
            )
        else:
            async with open_storage(
                self.repository, self.credentials, concurrency=self.concurrency
            ) as storage:
                downloader = Downloader(
                    storage, self.cache, self.repository.id, on_bytes=self.progress.bytes
                )
                async with task_group() as tg:
                    for package in sorted(missing, key=lambda p: -p.size):
                        tg.start_soon(self._fetch_locked_one, downloader, package, fetched)
                    # Which of them are yanked, from a listing made while the GETs run.
                    listed = {p.project for p in missing}
                    tg.start_soon(
                        functools.partial(warn_locked, listed=listed),
                        self.repository,
                        storage,
                        self.cache,
                        lock.packages,
                    )
                requests = getattr(storage, "requests", 0)
            retries, fetched_bytes = downloader.retries, downloader.bytes
        roots = _requested_projects(lock)
        packages = {
            package.project: Package(
                candidate=fetched[package.project].candidate,
                digest=package.sha256,
                path=fetched[package.project].path,
                source=fetched[package.project].source,
                meta=fetched[package.project].meta,
                dependencies=tuple(normalize_name(d) for d in package.dependencies),
                required_by=(
                    *((None,) if package.project in roots or not package.required_by else ()),
                    *(normalize_name(r) for r in package.required_by),
                ),
            )
            for package in lock.packages
        }
        return RunResult(
            packages=packages,
            rounds=0,
            depth=0,
            timings={"total": round(time.perf_counter() - started, 4)},
            requests=requests,
            listings=0,
            retries=retries,
            bytes_fetched=fetched_bytes,
        )

    async def _locked_from_cache(self, package: LockedPackage) -> Fetched | None:
        hit = await from_cache(self.cache, package.sha256, _locked_candidate(package))
        if hit is not None:
            self.progress.package(hit.candidate, "cache")
        return hit

    async def _fetch_locked_one(
        self, downloader: Downloader, package: LockedPackage, into: dict[str, Fetched]
    ) -> None:
        def changed(actual: str) -> IntegrityError:
            return IntegrityError(
                f"{package} changed in the repository since the lock was written (sha256 "
                f"{actual[:12]}..., locked {package.sha256[:12]}...): it was published again; "
                "run 'pipper lock' again"
            )

        def check(metadata: Mapping[str, str]) -> None:
            published = metadata.get("sha256", "").strip().lower()
            if published and published != package.sha256:
                raise changed(published)

        candidate = _locked_candidate(package)
        try:
            fetched = await downloader.fetch(candidate, on_metadata=check)
        except NotFoundError:
            raise NotFoundError(
                f"{package} is in the lock but no longer in {self.repository.describe()} "
                f"({package.key}); run 'pipper lock' again"
            ) from None
        if fetched.digest != package.sha256:
            raise changed(fetched.digest)
        self.progress.package(candidate, "network")
        into[package.project] = fetched

    # -- bundle URLs --------------------------------------------------------------------------

    async def fetch_urls(
        self, roots: Sequence[PackageId], *, prefer: Mapping[str, str] | None = None
    ) -> RunResult:
        """Fetch the bundles URL ids name (no credentials needed); resolve the other ids.

        A URL fixes one version of one package, so nothing is resolved for it: its bundle's
        dependencies must be provided by the other URLs (``pipper authorize`` writes one per
        package of a graph) or by the packages the named ids resolve to.
        """
        from pipper.urls import REPOSITORY_ID, HttpStorage, fetch_url

        started = time.perf_counter()
        await self.hold_cache()
        urls = [root for root in roots if root.url is not None]
        names = [root for root in roots if root.url is None]
        if self.offline:
            raise OfflineError(f"{urls[0]} is a URL: fetching it needs the network")
        from_urls: dict[str, Fetched] = {}
        named: list[RunResult] = []
        from pipper.storage.s3 import read_timeout_from_env

        timeout = read_timeout_from_env()
        async with HttpStorage(concurrency=self.concurrency, read_timeout=timeout) as http:
            downloader = Downloader(http, self.cache, REPOSITORY_ID, on_bytes=self.progress.bytes)

            async def one(root: PackageId) -> None:
                fetched = await fetch_url(downloader, http, root)
                if not root.specifier.contains(fetched.candidate.parsed, prereleases=True):
                    raise ResolutionError(
                        f"{root} holds {fetched.candidate}, which {root.raw.split(',')[-1]} "
                        "does not allow"
                    )
                self.progress.package(fetched.candidate, fetched.source)
                from_urls[fetched.candidate.project] = fetched

            async def resolve_names() -> None:
                named.append(await self.resolve(names, prefer=prefer))

            async with task_group() as tg:
                for root in urls:
                    tg.start_soon(one, root)
                if names:
                    tg.start_soon(resolve_names)
        resolved = named[0] if named else None
        packages = _url_graph(from_urls, resolved.packages if resolved else {})
        return RunResult(
            packages=packages,
            rounds=resolved.rounds if resolved else 0,
            depth=resolved.depth if resolved else 0,
            timings={"total": round(time.perf_counter() - started, 4)},
            requests=http.requests + (resolved.requests if resolved else 0),
            listings=resolved.listings if resolved else 0,
            retries=downloader.retries + (resolved.retries if resolved else 0),
            bytes_fetched=downloader.bytes + (resolved.bytes_fetched if resolved else 0),
        )


def _locked_candidate(package: LockedPackage) -> Candidate:
    return Candidate(
        name=package.name, version=package.version, key=package.key, size=package.size, etag=""
    )


def _requested_projects(lock: Lock) -> set[str]:
    found: set[str] = set()
    for text in lock.requested:
        try:
            found.update(p.key for p in parse_package_ids([text]))
        except PipperError:
            continue
    return found


def _url_graph(
    from_urls: Mapping[str, Fetched], resolved: Mapping[str, Package]
) -> dict[str, Package]:
    """Join URL bundles and resolved packages, checking every URL bundle's dependencies."""
    versions = {key: p.candidate for key, p in resolved.items()}
    for key, fetched in from_urls.items():
        other = versions.get(key)
        if other is not None and other.parsed != fetched.candidate.parsed:
            raise ResolutionError(
                f"a URL gives {fetched.candidate}, but the packages resolved from the "
                f"repository need {other}"
            )
        versions[key] = fetched.candidate
    providers = "none of the URLs" + (" or resolved packages" if resolved else "")
    dependencies: dict[str, tuple[str, ...]] = {}
    for key, fetched in from_urls.items():
        try:
            needed = parse_package_ids(fetched.meta.dependencies)
        except PipperError as exc:
            raise BundleError(
                f"{fetched.candidate} declares an invalid dependency: {exc}"
            ) from None
        for dependency in needed:
            have = versions.get(dependency.key)
            if have is None:
                raise ResolutionError(
                    f"{fetched.candidate} needs {dependency}, which {providers} provides"
                )
            if not dependency.specifier.contains(have.parsed, prereleases=True):
                raise ResolutionError(f"{fetched.candidate} needs {dependency}, not {have}")
        dependencies[key] = tuple(dict.fromkeys(d.key for d in needed))
    packages = dict(resolved)
    for key, fetched in from_urls.items():
        parents = [k for k, deps in dependencies.items() if key in deps and k != key]
        packages[key] = Package(
            candidate=fetched.candidate,
            digest=fetched.digest,
            path=fetched.path,
            source=fetched.source,
            meta=fetched.meta,
            dependencies=dependencies[key],
            required_by=(None, *parents),
        )
    return packages


def _dependencies_from_metadata(metadata: Mapping[str, str]) -> list[str] | None:
    """The ``dependencies`` of the original's ``package`` metadata field, when present and sane."""
    text = metadata.get("package")
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    deps = data.get("dependencies", []) if isinstance(data, dict) else None
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        return None
    return deps


def export(packages: Mapping[str, Package], directory: Path, *, extract: bool = False) -> int:
    """Place every bundle (and with ``extract`` its wheel) in ``directory``; returns links made."""
    directory.mkdir(parents=True, exist_ok=True)
    links = 0
    for package in packages.values():
        if package.path is None:
            continue
        how = atomic_link_or_copy(package.path, directory / package.filename)
        links += how == "link"
        if extract:
            extract_wheel(package.path, directory)
    return links
