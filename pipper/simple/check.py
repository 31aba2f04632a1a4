"""``pipper index check`` and ``rebuild``: every difference between the bundles and the index,
and writing the index again from the bundles.

The bundles are the truth. One listing of the repository gives every bundle and its ETag (see
``bundles.repository_bundles``), one listing of ``~simple/`` every index object and its size, and
one GET per page the pages; an entry records the bundle it was made from and that bundle's ETag,
so a bundle published by another tool (the original pipper writes no index), replaced, yanked or
deleted since is found without downloading any bundle. ``hashes`` also downloads every wheel and
``.metadata`` file and compares their sha256 with the page's.

A rebuild fixes exactly what the check finds, with the writer's compare-and-swap writes, so a
publisher running meanwhile loses nothing: a bundle it published after the listing is left to
its own index update, never removed as stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import anyio

from pipper.concurrency import task_group
from pipper.errors import NotFoundError
from pipper.keys import METADATA_SUFFIX, index_file_key, index_prefix, index_project_prefix
from pipper.repositories import Repository
from pipper.simple.bundles import IndexedBundle, opened_bundle, repository_bundles
from pipper.simple.pages import (
    IndexPageError,
    ProjectPage,
    RootPage,
    parse_project,
    parse_root,
    project_html,
    project_json,
    root_html,
    root_json,
)
from pipper.simple.writer import IndexWriter
from pipper.storage.base import ObjectInfo, Storage

__all__ = ["Difference", "IndexReport", "compare", "rebuild"]

CONCURRENT_PROJECTS = 8


@dataclass(frozen=True)
class Difference:
    """One way the index differs from the bundles, as a line a user reads."""

    project: str
    kind: str  # missing, changed, stale, yank, file, page, orphan, root
    detail: str
    bundle: IndexedBundle | None = field(default=None, compare=False)
    key: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass
class IndexReport:
    bundles: int = 0
    files: int = 0
    projects: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def current(self) -> bool:
        return not self.differences


@dataclass
class _Scan:
    writer: IndexWriter
    objects: dict[str, ObjectInfo]
    folder_pages: bool
    hashes: bool
    report: IndexReport


async def compare(storage: Storage, repository: Repository, *, hashes: bool = False) -> IndexReport:
    """Every difference between the repository's bundles and its simple index."""
    writer = IndexWriter(storage, repository)
    bundles = await repository_bundles(storage, repository)
    prefix = index_prefix(repository.root_prefix)
    objects = {o.key: o for o in (await storage.list(prefix)).objects}
    by_project: dict[str, list[IndexedBundle]] = {}
    for bundle in bundles:
        by_project.setdefault(bundle.project, []).append(bundle)
    in_index = {key[len(prefix) :].split("/")[0] for key in objects if "/" in key[len(prefix) :]}
    scan = _Scan(writer, objects, await writer.folder_pages(), hashes, IndexReport(len(bundles)))
    projects = sorted(set(by_project) | in_index)
    scan.report.projects = len(by_project)
    limiter = anyio.CapacityLimiter(CONCURRENT_PROJECTS)

    async def one(project: str) -> None:
        async with limiter:
            await _compare_project(scan, project, by_project.get(project, []))

    async with task_group() as tg:
        for project in projects:
            tg.start_soon(one, project)
    await _compare_root(scan, set(by_project))
    scan.report.differences.sort(key=lambda d: (d.project, d.kind, d.detail))
    return scan.report


async def _compare_project(scan: _Scan, project: str, bundles: list[IndexedBundle]) -> None:
    writer, found = scan.writer, scan.report.differences
    truth_key = writer.truth_key(project)
    read = await writer.read(truth_key)
    page = ProjectPage(project)
    if read is not None:
        try:
            page = parse_project(read[0], truth_key)
        except IndexPageError as exc:
            found.append(Difference(project, "page", str(exc), key=truth_key))
    entries = page.by_bundle()
    scan.report.files += len(page.files)
    for bundle in bundles:
        entry = entries.get(bundle.key)
        if entry is None:
            what = f"{bundle.name} {bundle.version} ({bundle.key}) is not in the index"
            found.append(Difference(project, "missing", what, bundle))
        elif _etag(entry.bundle_etag) != _etag(bundle.etag):
            what = f"{bundle.key} was replaced since {entry.filename} was indexed"
            found.append(Difference(project, "changed", what, bundle))
        elif entry.yanked != bundle.yanked or entry.yank_reason != bundle.yank_reason:
            state = (
                f"yanked ({bundle.yank_reason or 'no reason'})" if bundle.yanked else "not yanked"
            )
            what = f"{entry.filename}: the bundle is {state}, the index says otherwise"
            found.append(Difference(project, "yank", what, bundle))
    keys = {bundle.key for bundle in bundles}
    for entry in page.files:
        if entry.bundle not in keys:
            what = f"{entry.filename} is in the index, but its bundle {entry.bundle} is gone"
            found.append(Difference(project, "stale", what, key=entry.bundle))
    by_key = {bundle.key: bundle for bundle in bundles}
    expected = {truth_key, *writer.page_keys(project)}
    for entry in page.files:
        file_key = index_file_key(writer.root_prefix, project, entry.filename)
        expected |= {file_key, file_key + METADATA_SUFFIX}
        for key, size, digest in (
            (file_key, entry.size, entry.sha256),
            (file_key + METADATA_SUFFIX, None, entry.metadata_sha256),
        ):
            problem = await _file_problem(scan, key, size, digest)
            if problem is not None:
                found.append(Difference(project, "file", problem, by_key.get(entry.bundle), key))
    html_key, folder_key = writer.page_keys(project)
    rendered = [(html_key, project_html(page) if page.files else None)]
    if scan.folder_pages:
        rendered.append((folder_key, project_json(page) if page.files else None))
    await _compare_pages(scan, project, rendered)
    prefix = index_project_prefix(writer.root_prefix, project)
    for key, info in scan.objects.items():
        folder_left = key == folder_key and not scan.folder_pages and not info.size
        if key.startswith(prefix) and key not in expected and not folder_left:
            found.append(Difference(project, "orphan", f"{key} belongs to no entry", key=key))


async def _file_problem(scan: _Scan, key: str, size: int | None, digest: str) -> str | None:
    info = scan.objects.get(key)
    if info is None:
        return f"{key} is missing"
    if size is not None and info.size != size:
        return f"{key} holds {info.size} bytes, the page says {size}"
    if scan.hashes:
        actual = await scan.writer.sha256_of(key)
        if actual is None:
            return f"{key} is missing"
        if actual != digest:
            return f"{key} does not match the sha256 of the page"
    return None


async def _compare_pages(
    scan: _Scan, project: str, rendered: Iterable[tuple[str, bytes | None]]
) -> None:
    for key, body in rendered:
        read = await scan.writer.read(key)
        data = None if read is None else read[0]
        if data == body:
            continue
        if body is None:
            what = f"{key} should not be there (the project has no files)"
        else:
            what = f"{key} is missing" if data is None else f"{key} is not up to date"
        scan.report.differences.append(Difference(project, "page", what, key=key))


async def _compare_root(scan: _Scan, projects: set[str]) -> None:
    key, html_key, folder_key = scan.writer.root_keys
    read = await scan.writer.read(key)
    found = scan.report.differences
    root = RootPage(folder_pages=scan.folder_pages)
    if read is not None:
        try:
            root = parse_root(read[0], key)
        except IndexPageError as exc:
            found.append(Difference("", "root", str(exc), key=key))
    elif projects:
        found.append(Difference("", "root", f"{key} is missing", key=key))
    for project in sorted(projects - set(root.projects)):
        found.append(Difference(project, "root", f"{project} is not on the root page", key=key))
    for project in sorted(set(root.projects) - projects):
        what = f"{project} is on the root page but has no bundles"
        found.append(Difference(project, "root", what, key=key))
    if read is not None:
        rendered = [(html_key, root_html(root))]
        if scan.folder_pages:
            rendered.append((folder_key, root_json(root)))
        await _compare_pages(scan, "", rendered)


def _etag(etag: str) -> str:
    return etag.strip().strip('"')


# -- rebuilding ------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    before: IndexReport
    after: IndexReport
    indexed: int = 0
    removed: int = 0
    pages: int = 0


async def rebuild(storage: Storage, repository: Repository, *, passes: int = 2) -> RebuildResult:
    """Fix every difference ``compare`` finds, then compare again; a second pass fixes what the
    first uncovered (projects to list again on a root page that had to be written anew)."""
    before = after = await compare(storage, repository)
    writer = IndexWriter(storage, repository, force=True)
    result = RebuildResult(before, before)
    for _ in range(passes):
        if after.current:
            break
        await _fix(writer, result, after)
        after = await compare(storage, repository)
    result.after = after
    result.pages = writer.pages_written
    return result


async def _fix(writer: IndexWriter, result: RebuildResult, report: IndexReport) -> None:
    by_project: dict[str, list[Difference]] = {}
    for difference in report.differences:
        by_project.setdefault(difference.project, []).append(difference)
    if "" in by_project:
        await writer.refresh_root()
    limiter = anyio.CapacityLimiter(CONCURRENT_PROJECTS)

    async def one(project: str, differences: list[Difference]) -> None:
        async with limiter:
            await _rebuild_project(writer, result, project, differences)

    async with task_group() as tg:
        for project, differences in by_project.items():
            if project:
                tg.start_soon(one, project, differences)


async def _rebuild_project(
    writer: IndexWriter, result: RebuildResult, project: str, differences: list[Difference]
) -> None:
    readd: dict[str, IndexedBundle] = {}
    stale: set[str] = set()
    for difference in differences:
        bundle = difference.bundle
        if difference.kind in ("missing", "changed", "file") and bundle is not None:
            readd[bundle.key] = bundle
        elif difference.kind == "yank" and bundle is not None:
            await writer.set_yanked(project, [bundle.key], bundle.yanked, bundle.yank_reason)
        elif difference.kind == "stale" and difference.key is not None:
            stale.add(difference.key)
    # A bundle published after the listing is not stale: its publisher indexes it.
    stale = {key for key in stale if not await _exists(writer.storage, key)}
    for bundle in readd.values():
        async with opened_bundle(writer.storage, bundle) as (_, wheel):
            await writer.add(bundle, wheel)
        result.indexed += 1
    if stale:
        result.removed += len(await writer.remove(project, stale))
    # Every rendered page, rewritten where it differs; a project with no page leaves the root.
    if await writer.update(project, lambda page: None) is None:
        await writer.unlist(project)
    for difference in differences:
        if difference.kind == "orphan" and difference.key is not None:
            await writer.delete_orphan(difference.key)


async def _exists(storage: Storage, key: str) -> bool:
    try:
        await storage.head(key)
    except NotFoundError:
        return False
    return True
