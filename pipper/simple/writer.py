"""Keeping the simple index current with compare-and-swap writes, never read-then-overwrite.

Layout, under ``<root>/~simple/`` (``keys.index_prefix``):

- ``index.json``, ``index.html``, and the same JSON at ``~simple/`` itself: the root page;
- ``<project>/index.json``: the project page the writer updates (the truth, see ``pages``);
- ``<project>/index.html`` and ``<project>/`` (a key ending in ``/``: the URL uv and pip ask
  for) rendered from it; a store that cannot hold such a key (SeaweedFS, a local directory) has
  the other two only, and the root page records that (``folder_pages``) for later writers;
- ``<project>/<wheel>`` and ``<project>/<wheel>.metadata`` (PEP 658), written before any page
  names them.

Every page write is conditional: a page that exists is replaced only while it has the ETag it
was read with (``If-Match``), a new one only where none is (``If-None-Match: *``); a conflict
reads it again, applies the same change to what another writer left, and tries again. So two
publishers at once both end up in the page, with no lock and no database. The truth's serial
grows with every write; the rendered pages carry it, and a writer replaces one only with a
newer state (or the same), so the last writer leaves them matching the truth.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
from collections.abc import Callable, Collection, Sequence
from typing import BinaryIO, NamedTuple

import anyio

from pipper.concurrency import task_group
from pipper.errors import NetworkError, NotFoundError, VersionExistsError
from pipper.keys import METADATA_SUFFIX, index_file_key, index_prefix, index_project_prefix
from pipper.repositories import Repository
from pipper.simple.bundles import IndexedBundle
from pipper.simple.files import IndexedWheel
from pipper.simple.pages import (
    HTML_TYPE,
    JSON_TYPE,
    MAX_PAGE_BYTES,
    IndexFile,
    IndexPageError,
    ProjectPage,
    RootPage,
    html_serial,
    json_serial,
    parse_project,
    parse_root,
    project_html,
    project_json,
    root_html,
    root_json,
)
from pipper.storage.base import FolderKeyUnsupported, ObjectChanged, Storage, WriteConflict

__all__ = ["MAX_ATTEMPTS", "Found", "IndexWriter"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 50
"""Compare-and-swap attempts on one page before giving up (each conflict is another writer's
success, so this many in a row means dozens of writers at once)."""
WHEEL_TYPE = "application/octet-stream"
METADATA_TYPE = "text/plain; charset=utf-8"
Change = Callable[[ProjectPage], Sequence[IndexFile] | None]
"""A project's new files given its page, or None when nothing is to change."""
_FOLDER_TYPES = frozenset({"application/x-directory", "httpd/unix-directory"})


class Found(NamedTuple):
    """An index object as read: its bytes, ETag and content type."""

    data: bytes
    etag: str
    content_type: str | None = None

    @property
    def folder(self) -> bool:
        """The store answered with a folder, not an object (SeaweedFS for a key ending in /)."""
        return (self.content_type or "").split(";")[0].strip() in _FOLDER_TYPES


class IndexWriter:
    """Writes one repository's index; ``force`` rewrites every rendered page that differs from
    its truth whatever serial it carries (``pipper index rebuild``)."""

    def __init__(self, storage: Storage, repository: Repository, *, force: bool = False) -> None:
        self.storage = storage
        self.root_prefix = repository.root_prefix
        self.force = force
        self.where = repository.describe()
        self._folder_pages: bool | None = False if repository.is_local else None
        self._root_read: Found | None = None
        self.pages_written = 0

    # -- keys -------------------------------------------------------------------------------

    def truth_key(self, project: str) -> str:
        return index_project_prefix(self.root_prefix, project) + "index.json"

    def page_keys(self, project: str) -> tuple[str, str]:
        """The rendered pages: ``<project>/index.html`` and ``<project>/``."""
        prefix = index_project_prefix(self.root_prefix, project)
        return prefix + "index.html", prefix

    @property
    def root_keys(self) -> tuple[str, str, str]:
        """The root page: its truth, its HTML, and the copy at ``~simple/``."""
        prefix = index_prefix(self.root_prefix)
        return prefix + "index.json", prefix + "index.html", prefix

    async def folder_pages(self) -> bool:
        """Whether pages go to keys ending in ``/`` too (what the root page says, else yes)."""
        if self._folder_pages is None:
            found = self._root_read = await self.read(self.root_keys[0])
            root = None if found is None else self._root(found[0], self.root_keys[0])
            self._folder_pages = root is None or root.folder_pages
        return self._folder_pages

    # -- changes ----------------------------------------------------------------------------

    async def add(self, bundle: IndexedBundle, wheel: IndexedWheel) -> IndexFile:
        """Put ``wheel`` (from ``bundle``) in the index: its objects, then its entry."""
        project = bundle.project
        file_key = index_file_key(self.root_prefix, project, wheel.filename)
        entry = IndexFile(
            filename=wheel.filename,
            version=bundle.version,
            sha256=wheel.sha256,
            size=wheel.size,
            metadata_sha256=_sha256(wheel.metadata),
            bundle=bundle.key,
            bundle_etag=bundle.etag,
            requires_python=wheel.requires_python,
            yanked=bundle.yanked,
            yank_reason=bundle.yank_reason,
            upload_time=wheel.upload_time,
        )
        async with task_group() as tg:
            tg.start_soon(self.folder_pages)
            tg.start_soon(self._put_file, file_key, wheel.file, wheel.sha256, WHEEL_TYPE)
            metadata = io.BytesIO(wheel.metadata)
            tg.start_soon(
                self._put_file,
                file_key + METADATA_SUFFIX,
                metadata,
                entry.metadata_sha256,
                METADATA_TYPE,
            )

        def change(page: ProjectPage) -> list[IndexFile]:
            # One entry per wheel file, and one per bundle: this one replaces either.
            others = (f for f in page.files if f.filename != entry.filename)
            return [*(f for f in others if f.bundle != bundle.key), entry]

        await self.update(project, change)
        return entry

    async def remove(self, project: str, bundle_keys: Collection[str]) -> list[IndexFile]:
        """Take the entries of ``bundle_keys`` out, then their objects; returns those removed."""
        removed: list[IndexFile] = []

        def change(page: ProjectPage) -> list[IndexFile] | None:
            removed[:] = [f for f in page.files if f.bundle in bundle_keys]
            return [f for f in page.files if f.bundle not in bundle_keys] if removed else None

        page = await self.update(project, change)
        kept = {f.filename for f in page.files} if page is not None else set()
        for gone in removed:
            if gone.filename not in kept:
                key = index_file_key(self.root_prefix, project, gone.filename)
                await self.delete_orphan(key + METADATA_SUFFIX)
                await self.delete_orphan(key)
        return removed

    async def set_yanked(
        self, project: str, bundle_keys: Collection[str], yanked: bool, reason: str | None
    ) -> None:
        """Mark the entries of ``bundle_keys`` yanked (with ``reason``) or not."""

        def change(page: ProjectPage) -> list[IndexFile] | None:
            files = [
                _yanked(f, yanked, reason) if f.bundle in bundle_keys else f for f in page.files
            ]
            return files if files != list(page.files) else None

        await self.update(project, change)

    async def update(self, project: str, change: Change) -> ProjectPage | None:
        """Apply ``change`` to the project's page with compare-and-swap, then bring its rendered
        pages and the root page up to it; None when the project has no page and gets none."""
        key = self.truth_key(project)
        for attempt in range(MAX_ATTEMPTS):
            found = await self.read(key)
            current = ProjectPage(project) if found is None else self._project(found[0], key)
            files = change(current)
            if files is None:  # nothing to change: the pages are another writer's to keep
                if found is None or not self.force:
                    return None if found is None else current
                page = current
                break
            page = current.changed(files)
            if await self._swap(key, project_json(page), JSON_TYPE, found):
                break
            await _backoff(attempt)
        else:
            raise _too_busy(key)
        await self.publish(page)
        return page

    def _project(self, data: bytes, key: str) -> ProjectPage:
        """The page read; one that is not pipper's is replaced by a rebuild, else an error."""
        try:
            return parse_project(data, key)
        except IndexPageError as exc:
            if self.force:
                log.warning("%s; writing it again", exc)
                return ProjectPage(key.rsplit("/", 2)[-2])
            raise IndexPageError(f"{exc}: run 'pipper index rebuild' to write it again") from None

    def _root(self, data: bytes, key: str) -> RootPage:
        try:
            return parse_root(data, key)
        except IndexPageError as exc:
            if self.force:
                log.warning("%s; writing it again", exc)
                return RootPage(serial=0)
            raise IndexPageError(f"{exc}: run 'pipper index rebuild' to write it again") from None

    # -- rendered pages ---------------------------------------------------------------------

    async def publish(self, page: ProjectPage) -> None:
        """The HTML and folder pages up to ``page`` (none for a project with no files), then
        the root page listing it or not."""
        html_key, folder_key = self.page_keys(page.name)
        folder = await self.folder_pages()
        empty = not page.files
        async with task_group() as tg:
            html = None if empty else project_html(page)
            tg.start_soon(self._derive, html_key, page.serial, html, HTML_TYPE)
            if folder:
                body = None if empty else project_json(page)
                tg.start_soon(self._derive, folder_key, page.serial, body, JSON_TYPE)
        await self._list_in_root(page.name, present=not empty)

    async def unlist(self, project: str) -> None:
        """Take a project with no page off the root page."""
        await self._list_in_root(project, present=False)

    async def refresh_root(self) -> None:
        """Write the root's rendered pages again (a rebuild; a damaged root starts empty)."""
        await self._list_in_root(None, present=False)

    async def _list_in_root(self, project: str | None, *, present: bool) -> None:
        key, html_key, folder_key = self.root_keys
        for attempt in range(MAX_ATTEMPTS):
            # The root as read a moment ago, if it was: a stale one only fails the swap.
            found = self._root_read if attempt == 0 and self._root_read else await self.read(key)
            root = RootPage() if found is None else self._root(found[0], key)
            folder = await self.folder_pages()
            listed = project in root.projects
            if listed == present and root.folder_pages == folder and not self.force:
                return
            projects = set(root.projects) - {project}
            if present and project is not None:
                projects.add(project)
            new = RootPage(tuple(projects), root.serial + 1, folder)
            if new.projects == root.projects and new.folder_pages == root.folder_pages:
                new = root
            elif not await self._swap(key, root_json(new), JSON_TYPE, found):
                await _backoff(attempt)
                continue
            async with task_group() as tg:
                tg.start_soon(self._derive, html_key, new.serial, root_html(new), HTML_TYPE)
                if folder:
                    tg.start_soon(self._derive, folder_key, new.serial, root_json(new), JSON_TYPE)
            return
        raise _too_busy(key)

    async def _derive(self, key: str, serial: int, body: bytes | None, content_type: str) -> None:
        """Bring a rendered page to ``body`` (the truth at ``serial``; None: no page), unless
        it already shows a newer state."""
        for attempt in range(MAX_ATTEMPTS):
            found = await self.read(key)
            if found is not None and found.folder:
                self._no_folder_pages(key)  # SeaweedFS: the key names the folder of the files
                return
            if found is not None:
                data = found[0]
                there = html_serial(data) if content_type == HTML_TYPE else json_serial(data)
                if data == body or (not self.force and there is not None and there > serial):
                    return
            try:
                if body is None:
                    if found is not None:
                        await self.storage.delete(key, if_match=found[1])
                    return
                if await self._swap(key, body, content_type, found):
                    return
            except ObjectChanged:
                pass
            except FolderKeyUnsupported:
                self._no_folder_pages(key)
                return
            await _backoff(attempt)
        raise _too_busy(key)

    def _no_folder_pages(self, key: str) -> None:
        if self._folder_pages is not False:
            log.warning(
                "%s cannot hold %s (a key that ends in '/'): the index is written without those "
                "pages, so uv and pip cannot use it as --index-url there (pip can use "
                "'pipper authorize --find-links'; see the README)",
                self.where,
                key,
            )
        self._folder_pages = False

    # -- reading and writing objects --------------------------------------------------------

    async def read(self, key: str) -> Found | None:
        """An index object's bytes and ETag, or None when it is not there."""
        data = bytearray()
        try:
            async with self.storage.get(key) as stream:
                async for chunk in stream.chunks():
                    data += chunk
                    if len(data) > MAX_PAGE_BYTES:
                        raise IndexPageError(f"{key} is larger than {MAX_PAGE_BYTES} bytes")
                return Found(bytes(data), stream.etag, stream.content_type)
        except NotFoundError:
            return None

    async def _swap(self, key: str, body: bytes, content_type: str, found: Found | None) -> bool:
        """Write ``body`` over what was ``found`` (None: over nothing); False on a conflict."""
        etag = None if found is None else found[1]
        try:
            await self.storage.put(
                key,
                io.BytesIO(body),
                {},
                if_absent=etag is None,
                if_match=etag,
                content_type=content_type,
            )
        except (WriteConflict, VersionExistsError):
            log.debug("%s changed meanwhile; reading it again", key)
            return False
        self.pages_written += 1
        return True

    async def _put_file(self, key: str, body: BinaryIO, sha256: str, content_type: str) -> None:
        await self.storage.put(
            key, body, {"sha256": sha256}, if_absent=False, content_type=content_type
        )

    async def sha256_of(self, key: str) -> str | None:
        """The sha256 of an index file's bytes, streamed; None when it is not there."""
        digest = hashlib.sha256()
        try:
            async with self.storage.get(key) as stream:
                async for chunk in stream.chunks():
                    digest.update(chunk)
        except NotFoundError:
            return None
        return digest.hexdigest()

    async def delete_orphan(self, key: str) -> None:
        """Remove an index file, only while it is the one just looked at."""
        try:
            info, _ = await self.storage.head(key)
            await self.storage.delete(key, if_match=info.etag)
        except (NotFoundError, ObjectChanged):
            log.debug("%s is gone or was written again meanwhile; left as it is", key)


def _yanked(file: IndexFile, yanked: bool, reason: str | None) -> IndexFile:
    from dataclasses import replace

    return replace(file, yanked=yanked, yank_reason=reason if yanked else None)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _too_busy(key: str) -> NetworkError:
    return NetworkError(
        f"{key} kept changing: {MAX_ATTEMPTS} compare-and-swap writes in a row lost to other "
        "writers; run the command again"
    )


async def _backoff(attempt: int) -> None:
    """A short random pause, longer after each conflict, so racing writers spread out."""
    await anyio.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
