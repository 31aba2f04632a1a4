"""One run of resolve-and-fetch: the resources it owns and the graph it brings into the cache.

A ``Run`` is an async context manager that owns, for as long as the command uses the run's files:

- the cache's shared hold, so ``cache prune`` waits for the run rather than removing its files;
- the store, opened on first use (an ``--offline`` run or a warm lock never opens one), and the
  URL client for bundle URLs;
- one task group, on which every bundle's job runs.

The resolver asks the run for a candidate's dependencies; the first time it is asked, the run
starts that bundle's job: a cache hit (found from the listing's ETag alone, then rehashed) or a
GET whose response headers already carry the dependencies in the ``package`` metadata, so the
walk goes on while the body streams to disk. Jobs are keyed by object key, so no bundle is
fetched twice in one run. ``fetch_locked`` (:mod:`pipper.locked`) and ``fetch_urls``
(:mod:`pipper.urls`) are the other two ways a run fills the cache.

With a ``PublicConfig`` (every command unless ``--private-only``) a bundle's requirements are its
``dependencies``, its wheel's ``Requires-Dist`` and its ``pypi`` entries; a requirement the
repository holds is private and walked, every other one is public (:mod:`pipper.requirements`).
The public requirements of the chosen graph are then resolved together by pip and fetched into
the same cache (:mod:`pipper.public`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from anyio.abc import TaskGroup
from packaging.version import Version

from pipper.concurrency import task_group
from pipper.downloader import Downloader
from pipper.errors import OfflineError
from pipper.graph import Graph
from pipper.index import PackageIndex
from pipper.jobs import BundleJobs
from pipper.models import Candidate, Counters, LocalSource, Package, Progress, RunResult
from pipper.platforms import TargetSpec, choose_wheels, target_spec
from pipper.resolver import Resolution, Resolver
from pipper.specs import PackageId
from pipper.versions import normalize_name
from pipper.yanks import warn_yanked

if TYPE_CHECKING:
    from pipper.cache import Cache, CacheHold
    from pipper.lock import Lock
    from pipper.public import PublicConfig
    from pipper.repositories import Repository
    from pipper.settings import Settings
    from pipper.storage.base import Storage
    from pipper.storage.http import HttpStorage

__all__ = ["Run"]

log = logging.getLogger(__name__)

HOLD_TIMEOUT = 600.0


class Run(BundleJobs):
    """Build one with ``CommandContext.run()``; use it inside ``async with``."""

    def __init__(
        self,
        *,
        repository: Repository | None,
        cache: Cache,
        open_store: Callable[[], AbstractAsyncContextManager[Storage]] | None,
        settings: Settings,
        concurrency: int = 32,
        offline: bool = False,
        pre: bool = False,
        progress: Progress | None = None,
        installed: Mapping[str, str] | None = None,
        local: LocalSource | None = None,
        public: PublicConfig | None = None,
        target: TargetSpec | None = None,
    ) -> None:
        """``repository`` is ``None`` when local bundles decide alone (``install --from``);
        ``open_store`` is ``None`` when the run must not reach the repository (offline);
        ``public`` is ``None`` for ``--private-only``: bundles' ``dependencies`` alone;
        ``target`` chooses each version's wheel (default: the graph's interpreter)."""
        self.repository = repository
        self.cache = cache
        self.settings = settings
        self.concurrency = concurrency
        self.offline = offline
        self.pre = pre
        self.progress = progress or Progress()
        self.installed = {k: Version(v) for k, v in (installed or {}).items()}
        self.local = local
        self.public = public
        self.target = target or target_spec(public.python if public is not None else None)
        self.planning = False
        self.extract = None
        self._open_store = open_store
        self._graph = Graph(public)
        self._jobs = {}
        self._resources = AsyncExitStack()
        self._group: AbstractAsyncContextManager[TaskGroup] | None = None
        self._tg: TaskGroup | None = None
        self._hold: CacheHold | None = None
        self._store: Storage | None = None
        self._http: HttpStorage | None = None
        self._downloader: Downloader | None = None

    # -- the resources -------------------------------------------------------------------------

    async def __aenter__(self) -> Run:
        self._hold = await self.cache.hold_for_run(timeout=HOLD_TIMEOUT)
        self._group = task_group()
        self._tg = await self._group.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._tg is not None and self._group is not None:
                self._tg.cancel_scope.cancel()
                await self._group.__aexit__(None, None, None)
            await self._resources.aclose()
        finally:
            self._tg = self._group = None
            if self._hold is not None:
                self._hold.release()
                self._hold = None

    async def storage(self) -> Storage:
        """The repository's store, opened on first use and closed with the run."""
        if self._store is None:
            if self._open_store is None:
                raise OfflineError("this run may not reach the repository (--offline)")
            self._store = await self._resources.enter_async_context(self._open_store())
        return self._store

    async def downloader(self) -> Downloader:
        """The run's one downloader into the cache, over ``storage()``."""
        if self._downloader is None:
            assert self.repository is not None
            self._downloader = Downloader(
                await self.storage(),
                self.cache,
                self.repository.id,
                on_bytes=self.progress.bytes,
                backoff=self.settings.retry_backoff / 5,
            )
        return self._downloader

    async def http(self) -> HttpStorage:
        """The client for bundle URLs (no credentials), opened on first use."""
        if self._http is None:
            from pipper.storage.http import HttpStorage

            self._http = await self._resources.enter_async_context(
                HttpStorage(
                    concurrency=self.concurrency,
                    read_timeout=self.settings.read_timeout,
                    request_timeout=self.settings.request_timeout,
                )
            )
        return self._http

    def describe_source(self) -> str:
        """Where this run reads packages: the repository, and local bundles ahead of it."""
        places = [self.local.describe()] if self.local is not None else []
        if self.repository is not None:
            places.append(self.repository.describe())
        return " and ".join(places)

    def counters(self) -> Counters:
        """Requests and retries of every store the run opened, for ``RunResult``."""
        stores: list[Any] = [s for s in (self._store, self._http) if s is not None]
        retries = sum(s.retries for s in stores)
        retries += self._downloader.retries if self._downloader else 0
        return {
            "requests": sum(s.requests for s in stores),
            "retries": retries,
            "bytes_fetched": self._downloader.bytes if self._downloader else 0,
        }

    # -- resolving -----------------------------------------------------------------------------

    async def resolve(
        self,
        roots: Sequence[PackageId],
        *,
        prefer: Mapping[str, str] | None = None,
        requirements: Sequence[str] = (),
    ) -> RunResult:
        """Resolve ``roots`` and ``requirements`` (the input file's ``pypi`` entries) and bring
        every bundle of the graph, and every public wheel it needs, into the cache.

        Ids that are bundle URLs (``PackageId.url``) are fetched as they are: see ``fetch_urls``.
        """
        if any(root.url is not None for root in roots):
            return await self.fetch_urls(roots, prefer=prefer, requirements=requirements)
        return await self.resolve_public(
            await self.resolve_private(roots, prefer=prefer, requirements=requirements)
        )

    async def plan(
        self, roots: Sequence[PackageId], *, requirements: Sequence[str] = ()
    ) -> RunResult:
        """The graph ``resolve`` would bring in, bringing in no body it can do without
        (``pipper tree``): a bundle the cache lacks is learnt from one HEAD when its object
        metadata says what the walk needs, and is then a ``"network"`` package with no path;
        the public wheels pip chose and the cache lacks are named, not fetched."""
        self.planning = True
        return await self.resolve(roots, requirements=requirements)

    async def resolve_public(self, result: RunResult) -> RunResult:
        """pip's choice for the result's public requirements, fetched into the cache."""
        if self.public is None or not result.requirements:
            return result
        from pipper.public import resolve_public

        started = time.perf_counter()
        result.public = await resolve_public(
            self.cache,
            self.public,
            result.requirements,
            result.packages,
            offline=self.offline,
            fetch=not self.planning,
        )
        took = result.timings["public"] = round(time.perf_counter() - started, 4)
        result.timings["total"] = round(result.timings.get("total", 0.0) + took, 4)
        return result

    async def resolve_private(
        self,
        roots: Sequence[PackageId],
        *,
        prefer: Mapping[str, str] | None = None,
        requirements: Sequence[str] = (),
    ) -> RunResult:
        """The private graph, with its public requirements named but not yet resolved."""
        started = time.perf_counter()
        remote = self.repository is not None
        storage = await self.storage() if remote and not self.offline else None
        if storage is not None:
            await self.downloader()
        index = (
            PackageIndex(
                self.repository, storage, self.cache, offline=self.offline, whole_prefix=True
            )
            if self.repository is not None
            else None
        )

        async def versions(name: str) -> list[Candidate]:
            project = normalize_name(name)
            if self.local is not None and self.local.has(project):
                found = self.local.versions(project)
            else:
                found = await index.versions(name) if index is not None else []
            return choose_wheels(name, found, self.target)

        roots, needs = await self._graph.start(versions, roots, requirements)
        where = self.local.describe() if self.local and not remote else "the repository"
        resolver = Resolver(versions, self.dependencies, pre=self.pre, prefer=prefer, where=where)
        resolution = await resolver.resolve(roots)
        resolved_at = time.perf_counter()
        chosen = [node.candidate for node in resolution.nodes.values()]
        await warn_yanked(storage, chosen, "it is used because a requirement pins it")
        self.progress.total(len(resolution.nodes))
        packages = await self._collect(resolution)
        needs += self._graph.needs([node.candidate for node in resolution.nodes.values()])
        more = await self._further_wheels(packages) if self.target.everything else ()
        finished = time.perf_counter()
        return RunResult(
            more_wheels=more,
            requirements=tuple(dict.fromkeys(needs)),
            packages=packages,
            rounds=resolution.rounds,
            depth=resolution.depth,
            timings={
                "resolve": round(resolved_at - started, 4),
                "total": round(finished - started, 4),
            },
            listings=index.listings if index is not None else 0,
            source=self.describe_source(),
            **self.counters(),
        )

    async def fetch_locked(self, lock: Lock) -> RunResult:
        """Exactly the lock's bundles, with no listing (see :mod:`pipper.locked`), and its
        public wheels, each checked against its locked sha256."""
        from pipper.locked import fetch_locked

        result = await fetch_locked(self, lock)
        if self.public is not None and lock.public:
            from pipper.publiclock import fetch_locked_public

            result.public = await fetch_locked_public(
                self.cache, self.public, lock.public, offline=self.offline
            )
        return result

    async def fetch_urls(
        self,
        roots: Sequence[PackageId],
        *,
        prefer: Mapping[str, str] | None = None,
        requirements: Sequence[str] = (),
    ) -> RunResult:
        """Bundle URLs as they are, the other ids resolved: see :mod:`pipper.urls`.

        With no repository to ask, a URL bundle's requirement that neither the URLs nor the
        resolved packages provide is public.
        """
        from pipper.urls import fetch_urls

        names = [root for root in roots if root.url is None]

        async def resolve_names() -> RunResult | None:
            if not names and not requirements:
                return None
            return await self.resolve_private(names, prefer=prefer, requirements=requirements)

        result = await fetch_urls(self, [r for r in roots if r.url is not None], resolve_names)
        if self.public is not None:
            result.requirements = await self._graph.url_needs(result)
        return await self.resolve_public(result)

    async def _further_wheels(self, packages: Mapping[str, Package]) -> tuple[Package, ...]:
        """Every other wheel of each chosen version (``--all-platforms``), fetched like the
        chosen one: a vendor folder for several machines."""
        further = [
            (
                package,
                replace(
                    package.candidate, key=w.key, size=w.size, etag=w.etag, tag_part=w.tag_part
                ),
            )
            for package in packages.values()
            for w in package.candidate.wheels
            if w.key != package.candidate.key
        ]
        for _, candidate in further:
            self._job(candidate)
        found = []
        for package, candidate in further:
            fetched = await self._finished(candidate)
            found.append(
                replace(
                    package,
                    candidate=candidate,
                    digest=fetched.digest,
                    path=fetched.path,
                    source=fetched.source,
                    meta=fetched.meta,
                )
            )
        return tuple(found)

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
                    source="network" if self.planning else "installed",
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
                wheel=fetched.wheel,
            )
            self._graph.check_headers(node.candidate, fetched.meta)
        return packages
