"""Stores behind one interface: ``open_storage`` picks S3 or a local directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pipper.config import Credentials, Repository
from pipper.storage.base import Listing, ObjectInfo, ObjectStream, Storage, StreamInterrupted

__all__ = [
    "Listing",
    "ObjectInfo",
    "ObjectStream",
    "Storage",
    "StreamInterrupted",
    "open_storage",
]


@asynccontextmanager
async def open_storage(
    repository: Repository, credentials: Credentials | None = None, *, concurrency: int = 32
) -> AsyncIterator[Storage]:
    """Open the store a repository names; S3 modules are imported only when S3 is used."""
    if repository.is_local:
        from pipper.storage.local import LocalStorage

        assert repository.local_path is not None
        yield LocalStorage(repository.local_path)
        return
    from pipper.storage.s3 import S3Storage

    async with S3Storage(
        repository, credentials or Credentials(), concurrency=concurrency
    ) as storage:
        yield storage
