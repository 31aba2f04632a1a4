"""The storage contract over the in-memory store and the local directory store."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from pipper.errors import NotFoundError
from pipper.storage.base import Storage
from pipper.storage.local import LocalStorage
from pipper.storage.memory import MemoryStorage
from tests.lib.contract import StorageContract, read_all


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def store(self) -> Storage:
        return MemoryStorage()

    def seed(self, store: Storage, key: str, data: bytes, metadata: Mapping[str, str]) -> None:
        assert isinstance(store, MemoryStorage)
        store.seed(key, data, metadata)


class TestMemoryStorageWithoutFolderKeys(TestMemoryStorage):
    """The in-memory store as SeaweedFS behaves with keys ending in ``/``."""

    folder_keys: ClassVar[bool] = False

    @pytest.fixture
    def store(self) -> Storage:
        return MemoryStorage(folder_keys=False)


class TestLocalStorage(StorageContract):
    keeps_metadata: ClassVar[bool] = False  # a directory has nowhere to keep S3 user metadata
    folder_keys: ClassVar[bool] = False  # a folder cannot also be a file

    @pytest.fixture
    def store(self, tmp_path: Path) -> Storage:
        return LocalStorage(tmp_path / "store")

    def seed(self, store: Storage, key: str, data: bytes, metadata: Mapping[str, str]) -> None:
        assert isinstance(store, LocalStorage)
        path = store.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        written = path.with_name(f".seed-{path.name}")
        written.write_bytes(data)
        os.replace(written, path)  # a new file, as another writer's atomic replace makes

    @pytest.mark.parametrize("key", ["../outside.pipper", "pipper/../../x", "a\\b/v1.pipper"])
    async def test_a_key_cannot_leave_the_root(self, store: Storage, key: str) -> None:
        with pytest.raises(NotFoundError, match="invalid key"):
            await store.head(key)
        with pytest.raises(NotFoundError, match="invalid key"):
            await read_all(store, key)
