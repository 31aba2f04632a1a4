"""One bundle's job in a run: where its bytes come from, and its dependencies as soon as known.

The first time the resolver asks for a candidate's dependencies, ``BundleJobs`` starts that
bundle's job on the run's task group: a local ``.pipper`` file (``install --from``), an installed
package kept with one HEAD, a cache hit (found from the listing's ETag alone, then checked), or a
GET whose response headers already carry the dependencies in the ``package`` metadata, so the
walk goes on while the body streams to disk. Jobs are keyed by object key, so no bundle is
fetched twice in one run. :class:`~pipper.run.Run` owns the resources the jobs use.

An ``install`` run also extracts each bundle's wheel into the cache (``extract``) as soon as the
bundle is there, in a worker thread, so the installer finds them ready when the walk ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup
from packaging.version import Version

from pipper.downloader import Downloader, from_cache
from pipper.errors import OfflineError
from pipper.models import Candidate, Fetched, LocalSource, Progress
from pipper.specs import PackageId

if TYPE_CHECKING:
    from pipper.cache import Cache, ExtractedWheels
    from pipper.graph import Graph
    from pipper.public import PublicConfig
    from pipper.repositories import Repository
    from pipper.storage.base import Storage

__all__ = ["BundleJobs"]

log = logging.getLogger("pipper.run")


class _Job:
    def __init__(self) -> None:
        self.headers = anyio.Event()
        self.done = anyio.Event()
        self.metadata: Mapping[str, str] = {}
        self.fetched: Fetched | None = None
        self.kept = False
        self.error: BaseException | None = None


class BundleJobs:
    """The job side of a run; ``Run`` provides the attributes declared here."""

    repository: Repository | None
    cache: Cache
    progress: Progress
    installed: dict[str, Version]
    local: LocalSource | None
    _jobs: dict[str, _Job]
    _tg: TaskGroup | None
    _store: Storage | None
    _downloader: Downloader | None
    _graph: Graph
    public: PublicConfig | None
    planning: bool
    extract: ExtractedWheels | None

    # -- jobs ----------------------------------------------------------------------------------

    def _job(self, candidate: Candidate) -> _Job:
        job = self._jobs.get(candidate.key)
        if job is None:
            job = self._jobs[candidate.key] = _Job()
            self.progress.queued(candidate)
            assert self._tg is not None, "use the run inside 'async with'"
            self._tg.start_soon(self._run_job, candidate, job)
        return job

    async def _run_job(self, candidate: Candidate, job: _Job) -> None:
        try:
            if self.local is not None and self.local.has(candidate.project):
                job.fetched = await self._fetch_local(candidate)
            else:
                kept = self.planning or self.installed.get(candidate.project) == candidate.parsed
                if kept and await self._keep(candidate, job):
                    return
                job.fetched = await self._fetch(candidate, job)
            if self.extract is not None:
                job.fetched = await self._with_wheel(job.fetched, self.extract)
        except Exception as exc:
            job.error = exc
        finally:
            job.headers.set()
            job.done.set()

    async def _with_wheel(self, fetched: Fetched, extract: ExtractedWheels) -> Fetched:
        """``fetched`` with its wheel extracted into the cache (see ``_placed``)."""
        if fetched.wheel is not None:
            return fetched
        return await anyio.to_thread.run_sync(_placed, fetched, extract)

    async def _keep(self, candidate: Candidate, job: _Job) -> bool:
        """Learn an installed package's dependencies (or a planned one's) from one HEAD instead
        of its body."""
        assert self.repository is not None
        if self._store is None or self.cache.lookup(
            self.repository.id, candidate.key, candidate.etag
        ):
            return False
        _, metadata = await self._store.head(candidate.key)
        sight = self.public.install if self.public is not None else None
        target = sight is not None and sight.target is not None
        if not self._graph.keeps(metadata, candidate.key, target=target):
            return False
        job.metadata = metadata
        job.kept = True
        self.progress.package(candidate, "planned" if self.planning else "installed")
        return True

    async def _fetch_local(self, candidate: Candidate) -> Fetched:
        from pipper.bundle import read_bundle
        from pipper.cache import sha256_file

        assert self.local is not None
        path = self.local.path(candidate)
        meta = await anyio.to_thread.run_sync(
            lambda: read_bundle(path, expect_name=candidate.name, expect_version=candidate.version)
        )
        digest = await anyio.to_thread.run_sync(sha256_file, path)
        self.progress.package(candidate, "local")
        return Fetched(candidate, digest, path, "local", meta)

    async def _fetch(self, candidate: Candidate, job: _Job) -> Fetched:
        assert self.repository is not None
        digest = self.cache.lookup(self.repository.id, candidate.key, candidate.etag)
        if digest is not None:
            extract = self.extract
            if extract is None:
                found = await from_cache(self.cache, digest, candidate)
            else:
                found = await from_cache(
                    self.cache,
                    digest,
                    candidate,
                    also=lambda hit: _placed(hit, extract),
                    ready=lambda hit: _sealed(hit, extract),
                )
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
        """A candidate's private dependencies, from its response headers when they carry them;
        its public requirements are kept for the end of the run."""
        job = self._job(candidate)
        await job.headers.wait()
        if job.error is not None:
            raise job.error
        return await self._graph.dependencies(
            candidate, job.metadata, lambda: self._finished(candidate)
        )


def _sealed(fetched: Fetched, extract: ExtractedWheels) -> Fetched | None:
    """``fetched`` with its wheel, when a sealed copy is extracted already; else None."""
    wheel = extract.get(fetched.digest, fetched.meta.wheel_name)
    return replace(fetched, wheel=wheel) if wheel is not None else None


def _placed(fetched: Fetched, extract: ExtractedWheels) -> Fetched:
    """``fetched`` with its wheel extracted into the cache (a worker thread's work); on any
    failure without it, and the installer's turn tries again and says why (this version may
    not even be chosen)."""
    name = fetched.meta.wheel_name
    try:
        return replace(fetched, wheel=extract.from_bundle(fetched.digest, fetched.path, name))
    except Exception as exc:  # reported when the installer needs this wheel
        log.debug("could not extract %s yet: %s", name, exc)
        return fetched
