"""A find-links page of presigned wheel URLs, for installers that cannot sign requests.

``pip install --find-links PAGE`` (and poetry, pdm) read a flat HTML page of links to wheels.
``pipper authorize --find-links PAGE`` writes one for a resolved graph: each link is a presigned
GET of the wheel the index keeps for a bundle, with the wheel's sha256 in the fragment, so pip
checks what it downloads and needs no credentials until the URLs expire. The URLs are secrets
until then: they go into the page only, never into a message.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipper.errors import NotFoundError
from pipper.keys import index_file_key
from pipper.models import Candidate
from pipper.repositories import Repository
from pipper.simple.pages import IndexFile, find_links_html, parse_project
from pipper.simple.writer import IndexWriter
from pipper.storage.base import Storage

__all__ = ["find_links_page"]


async def find_links_page(
    storage: Storage, repository: Repository, candidates: Sequence[Candidate], expires_in: int
) -> bytes:
    """The page for ``candidates``: one presigned link per bundle's wheel, by file name."""
    writer = IndexWriter(storage, repository)
    pages: dict[str, dict[str, IndexFile]] = {}
    entries: list[tuple[str, IndexFile]] = []
    for candidate in sorted(candidates, key=lambda c: (c.project, c.parsed)):
        project = candidate.project
        if project not in pages:
            key = writer.truth_key(project)
            found = await writer.read(key)
            pages[project] = {} if found is None else parse_project(found[0], key).by_bundle()
        entry = pages[project].get(candidate.key)
        if entry is None:
            raise NotFoundError(
                f"{candidate} ({candidate.key}) is not in the simple index of "
                f"{repository.describe()}: run 'pipper index rebuild'"
            )
        wheel_key = index_file_key(repository.root_prefix, project, entry.filename)
        entries.append((await storage.presign(wheel_key, expires_in), entry))
    return find_links_html(entries)
