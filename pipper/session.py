"""One run of resolve-and-download: the core that ``download``, ``install``, ``lock`` and
``cache warm`` share.

A ``Session`` owns the run's store connection, its cache and one task group. The resolver asks it
for a candidate's dependencies; the first time it is asked, the session starts that bundle's job:
a cache hit (found from the listing's ETag alone, then rehashed) or a GET whose response headers
already carry the dependencies in the ``package`` metadata, so the walk goes on while the body
streams to disk. Jobs are keyed by object key, so no bundle is fetched twice in one run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
from anyio.abc import TaskGroup
from packaging.version import Version

from pipper.bundle import BundleMeta, extract_wheel, read_bundle
from pipper.cache import Cache
from pipper.concurrency import task_group
from pipper.config import Credentials, Repository
from pipper.downloader import Downloader, Fetched, Source
from pipper.errors import BundleError, OfflineError, PipperError
from pipper.fsutil import atomic_link_or_copy
from pipper.index import Candidate, PackageIndex
from pipper.resolver import Resolution, Resolver
from pipper.specs import PackageId, parse_package_ids
from pipper.storage import Storage, open_storage

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


class _Job:
    def __init__(self) -> None:
        self.headers = anyio.Event()
        self.done = anyio.Event()
        self.metadata: Mapping[str, str] = {}
        self.fetched: Fetched | None = None
        self.kept = False
        self.error: BaseException | None = None


class Session:
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
    ) -> None:
        self.repository = repository
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
        """Resolve ``roots`` and bring every bundle of the graph into the cache."""
        started = time.perf_counter()
        async with AsyncExitStack() as stack:
            if not self.offline:
                self.storage = await stack.enter_async_context(
                    open_storage(self.repository, self.credentials, concurrency=self.concurrency)
                )
                self._downloader = Downloader(
                    self.storage, self.cache, self.repository.id, on_bytes=self.progress.bytes
                )
            index = PackageIndex(self.repository, self.storage, self.cache, offline=self.offline)
            async with task_group() as tg:
                self._tg = tg
                resolver = Resolver(index.versions, self.dependencies, pre=self.pre, prefer=prefer)
                resolution = await resolver.resolve(roots)
                resolved_at = time.perf_counter()
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
            retries=self._downloader.retries if self._downloader else 0,
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
            declared = {d.key for d in parse_package_ids(fetched.meta.dependencies)}
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

    async def _run_job(self, candidate: Candidate, job: _Job) -> None:
        try:
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

    async def _fetch(self, candidate: Candidate, job: _Job) -> Fetched:
        digest = self.cache.lookup(self.repository.id, candidate.key, candidate.etag)
        if digest is not None:
            path = await anyio.to_thread.run_sync(self.cache.verified, digest)
            if path is not None:
                meta = await anyio.to_thread.run_sync(
                    lambda: read_bundle(
                        path, expect_name=candidate.name, expect_version=candidate.version
                    )
                )
                self.cache.touch(path)
                self.progress.package(candidate, "cache")
                return Fetched(candidate, digest, path, "cache", meta)
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
