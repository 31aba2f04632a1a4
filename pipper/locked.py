"""A run from a lock file: exactly the lock's bundles, with no resolving and one round of GETs.

The locked sha256 is the cache key, so a package the cache holds costs no request, and a run
whose cache holds them all never opens the store. The others are fetched all at once and must
hash to the locked sha256. A package gone from the repository, or published again with other
bytes, fails with its name. A yanked package is fetched all the same, with a warning: a run that
fetches lists the prefix once alongside its GETs to learn that, a run the cache answers asks the
cache's last listing (``yanks.warn_locked``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pipper.concurrency import task_group
from pipper.downloader import Downloader, from_cache
from pipper.errors import IntegrityError, NotFoundError, OfflineError, PipperError
from pipper.keys import is_pure_wheel, wheel_tag_part
from pipper.models import Candidate, Fetched, Package, RunResult
from pipper.specs import parse_package_ids
from pipper.versions import normalize_name
from pipper.yanks import warn_locked

if TYPE_CHECKING:
    from pipper.lock import Lock, LockedPackage
    from pipper.run import Run

__all__ = ["fetch_locked"]

log = logging.getLogger(__name__)


async def fetch_locked(run: Run, lock: Lock) -> RunResult:
    """Bring the lock's bundles into ``run``'s cache; see the module docstring."""
    started = time.perf_counter()
    repository = run.repository
    assert repository is not None
    if not lock.repository.same_place(repository):
        log.warning(
            "the lock was written for %s; fetching its packages from %s",
            lock.repository.id,
            repository.describe(),
        )
    for package in lock.packages:
        run.progress.queued(_candidate(package))
    run.progress.total(len(lock.packages))
    fetched: dict[str, Fetched] = {}
    missing: list[LockedPackage] = []

    async def look_in_cache(package: LockedPackage) -> None:
        hit = await from_cache(run.cache, package.sha256, _candidate(package))
        if hit is None:
            missing.append(package)
        else:
            run.progress.package(hit.candidate, "cache")
            fetched[package.project] = hit

    async with task_group() as tg:
        for package in lock.packages:
            tg.start_soon(look_in_cache, package)
    if not missing:  # no request: yanks as the cache's last listing shows them
        await warn_locked(repository, None, run.cache, lock.packages)
    elif run.offline:
        names = ", ".join(sorted(str(p) for p in missing))
        raise OfflineError(f"not in the cache: {names}; run 'pipper cache warm --lock' once online")
    else:
        downloader = await run.downloader()
        listed = {p.project for p in missing}
        async with task_group() as tg:
            for package in sorted(missing, key=lambda p: -p.size):
                tg.start_soon(_fetch_one, run, downloader, package, fetched)
            # Which of them are yanked, from a listing made while the GETs run.
            tg.start_soon(
                functools.partial(warn_locked, listed=listed),
                repository,
                await run.storage(),
                run.cache,
                lock.packages,
            )
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
        timings={"total": round(time.perf_counter() - started, 4)},
        source=repository.describe(),
        **run.counters(),
    )


async def _fetch_one(
    run: Run, downloader: Downloader, package: LockedPackage, into: dict[str, Fetched]
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

    candidate = _candidate(package)
    try:
        fetched = await downloader.fetch(candidate, on_metadata=check)
    except NotFoundError:
        assert run.repository is not None
        raise NotFoundError(
            f"{package} is in the lock but no longer in {run.repository.describe()} "
            f"({package.key}); run 'pipper lock' again"
        ) from None
    if fetched.digest != package.sha256:
        raise changed(fetched.digest)
    run.progress.package(candidate, "network")
    into[package.project] = fetched


def _candidate(package: LockedPackage) -> Candidate:
    wheel = package.wheel
    return Candidate(
        name=package.name,
        version=package.version,
        key=package.key,
        size=package.size,
        etag="",
        tag_part=wheel_tag_part(wheel) if wheel and not is_pure_wheel(wheel) else None,
    )


def _requested_projects(lock: Lock) -> set[str]:
    found: set[str] = set()
    for text in lock.requested:
        try:
            found.update(p.key for p in parse_package_ids([text]))
        except PipperError:
            continue
    return found
