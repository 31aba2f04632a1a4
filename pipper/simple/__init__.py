"""The bucket as a standard package index, next to the bundles: plain uv and pip install from it.

Under ``<root>/~simple/`` (where the original pipper, which lists ``<root>/<name>/v...`` and
keeps only ``.pipper`` keys, never looks), every wheel is a plain object with its PEP 658 core
metadata beside it, and PEP 503 HTML and PEP 691 JSON pages list them with their hashes,
``requires-python`` and yanked state. ``pages`` renders and reads the pages, ``writer`` keeps
them current with compare-and-swap writes (two publishers at once lose nothing), ``bundles``
enumerates the bundles the index is made from, ``check`` compares and rebuilds.

The calls the rest of pipper makes are here: ``add`` after a bundle is published, ``forget``
after bundles are deleted, ``mark_yanked`` after a yank or an unyank.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from contextlib import ExitStack
from typing import IO

import anyio

from pipper.bundle import BundleMeta
from pipper.errors import PipperError
from pipper.repositories import Repository
from pipper.simple.bundles import IndexedBundle
from pipper.simple.files import wheel_of_bundle
from pipper.simple.pages import IndexFile
from pipper.simple.writer import IndexWriter
from pipper.storage.base import Storage

__all__ = ["IndexedBundle", "add", "forget", "mark_yanked"]

log = logging.getLogger(__name__)


async def add(
    storage: Storage,
    repository: Repository,
    bundle: IndexedBundle,
    source: IO[bytes],
    meta: BundleMeta,
) -> IndexFile:
    """Index the wheel of a bundle just published (``source``: the open bundle, validated as
    ``meta``); every platform variant of a version is added the same way, one wheel each."""
    with ExitStack() as stack:
        opened = wheel_of_bundle(source, meta, bundle.key)
        wheel = await anyio.to_thread.run_sync(stack.enter_context, opened)
        return await IndexWriter(storage, repository).add(bundle, wheel)


async def forget(
    storage: Storage, repository: Repository, project: str, bundle_keys: Collection[str]
) -> None:
    """Take deleted bundles out of the index; a failure is a warning (the bundles are gone)."""
    try:
        await IndexWriter(storage, repository).remove(project, bundle_keys)
    except PipperError as exc:
        log.warning("the simple index still lists them (%s): run 'pipper index rebuild'", exc)


async def mark_yanked(
    storage: Storage,
    repository: Repository,
    project: str,
    bundle_keys: Collection[str],
    *,
    yanked: bool,
    reason: str | None = None,
) -> None:
    """Show a yank (or its undoing) in the index; a failure is a warning, as for ``forget``."""
    try:
        await IndexWriter(storage, repository).set_yanked(project, bundle_keys, yanked, reason)
    except PipperError as exc:
        log.warning("the simple index does not show it (%s): run 'pipper index rebuild'", exc)
