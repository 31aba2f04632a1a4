"""Bundles fetched by URL (presigned S3 GETs from ``pipper authorize``, or any http(s) URL).

A URL fixes one version of one package, so nothing is resolved for it: its bundle's dependencies
must be provided by the other URLs (``pipper authorize`` writes one per package of a graph) or by
the packages the named ids resolve to. The store behind them is
:class:`~pipper.storage.http.HttpStorage`; the cache records them under ``REPOSITORY_ID``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from pipper.concurrency import task_group
from pipper.downloader import Downloader
from pipper.errors import BundleError, OfflineError, PipperError, ResolutionError
from pipper.models import Fetched, Package, RunResult
from pipper.specs import PackageId, parse_package_ids

if TYPE_CHECKING:
    from pipper.run import Run

__all__ = ["REPOSITORY_ID", "fetch_urls"]

REPOSITORY_ID = "urls"  # what the cache records these bundles under


async def fetch_urls(
    run: Run, urls: Sequence[PackageId], resolve_names: Callable[[], Awaitable[RunResult | None]]
) -> RunResult:
    """Fetch the bundles ``urls`` name (no credentials needed) while the other ids resolve."""
    started = time.perf_counter()
    if run.offline:
        raise OfflineError(f"{urls[0]} is a URL: fetching it needs the network")
    http = await run.http()
    downloader = Downloader(
        http,
        run.cache,
        REPOSITORY_ID,
        on_bytes=run.progress.bytes,
        backoff=run.settings.retry_backoff / 5,
    )
    from_urls: dict[str, Fetched] = {}
    named: list[RunResult | None] = []

    async def one(root: PackageId) -> None:
        candidate = http.candidate(root)
        run.progress.queued(candidate)
        fetched = await downloader.fetch(candidate)
        if not root.specifier.contains(fetched.candidate.parsed, prereleases=True):
            raise ResolutionError(
                f"{root} holds {fetched.candidate}, which {root.raw.split(',')[-1]} does not allow"
            )
        run.progress.package(fetched.candidate, fetched.source)
        from_urls[fetched.candidate.project] = fetched

    async def names() -> None:
        named.append(await resolve_names())

    async with task_group() as tg:
        for root in urls:
            tg.start_soon(one, root)
        tg.start_soon(names)
    resolved = named[0] if named else None
    counters = run.counters()
    return RunResult(
        packages=_url_graph(from_urls, resolved.packages if resolved else {}),
        rounds=resolved.rounds if resolved else 0,
        depth=resolved.depth if resolved else 0,
        timings={"total": round(time.perf_counter() - started, 4)},
        listings=resolved.listings if resolved else 0,
        requests=counters["requests"],
        retries=counters["retries"] + downloader.retries,
        bytes_fetched=counters["bytes_fetched"] + downloader.bytes,
        source=" and ".join(["bundle URLs", *([resolved.source] if resolved else [])]),
        requirements=resolved.requirements if resolved else (),
    )


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
