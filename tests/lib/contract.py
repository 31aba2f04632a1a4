"""The storage contract: one set of tests every ``Storage`` must pass.

The resolver, index, downloader and publisher rely on a few store properties: a conditional
write refuses an existing key, a ranged GET tied to an ETag (``If-Match``) resumes the same
object or raises ``ObjectChanged``, a listing is sorted, scoped to its prefix, paged past 1,000
keys and truncated at a limit, and HEAD agrees with the listing. ``StorageContract`` states them
once; ``tests/unit/test_storage_contract.py`` runs it over the in-memory and local directory
stores, ``tests/system/test_storage_contract.py`` over a real S3 server.

A subclass provides a ``store`` fixture and ``seed`` (writing an object the way another writer
would, past the store under test); ``keeps_metadata`` says whether the store has user metadata,
``folder_keys`` whether it holds an object whose key ends in ``/``.

The simple index is kept with compare-and-swap writes (``put(if_match=ETAG)``), so the contract
also states those: the ETag a put returns is the one reads give, a write tied to an old ETag or
to a key that is gone stores nothing and raises ``WriteConflict``, and writers that retry on a
conflict lose no update however many race.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import anyio
import pytest

from pipper.errors import IntegrityError, NotFoundError, VersionExistsError
from pipper.storage.base import FolderKeyUnsupported, ObjectChanged, Storage, WriteConflict

BODY = bytes(range(256)) * 64  # 16 KiB that differ from byte to byte
OTHER_BODY = b"another writer's bundle" * 500
KEY = "pipper/alpha/v1-0-0.pipper"
PAGED = 1003
"""More keys than one S3 listing page holds (1,000)."""


async def put_file(
    store: Storage,
    key: str,
    path: Path,
    metadata: Mapping[str, str],
    *,
    if_absent: bool,
    content_md5: str | None = None,
) -> None:
    with path.open("rb") as body:
        await store.put(key, body, metadata, if_absent=if_absent, content_md5=content_md5)


async def read_all(
    store: Storage, key: str, *, start: int = 0, if_match: str | None = None
) -> bytes:
    async with store.get(key, start=start, if_match=if_match) as stream:
        return b"".join([chunk async for chunk in stream.chunks()])


@pytest.mark.anyio
class StorageContract:
    """What every store must do; subclasses name the store (see the module docstring)."""

    keeps_metadata: ClassVar[bool] = True
    folder_keys: ClassVar[bool] = True

    @pytest.fixture
    def store(self) -> Storage:
        raise NotImplementedError("a contract subclass provides the store")

    def seed(self, store: Storage, key: str, data: bytes, metadata: Mapping[str, str]) -> None:
        raise NotImplementedError("a contract subclass provides seed()")

    def seed_many(self, store: Storage, objects: Mapping[str, bytes]) -> None:
        for key, data in objects.items():
            self.seed(store, key, data, {})

    @pytest.fixture
    def body_file(self, tmp_path: Path) -> Path:
        path = tmp_path / "body.pipper"
        path.write_bytes(BODY)
        return path

    # -- writing --------------------------------------------------------------------------

    async def test_a_put_is_what_head_list_and_get_then_see(
        self, store: Storage, body_file: Path
    ) -> None:
        await put_file(store, KEY, body_file, {"sha256": "ab" * 32}, if_absent=True)
        info, _ = await store.head(KEY)
        listing = await store.list("pipper/alpha/")
        async with store.get(KEY) as stream:
            data = b"".join([chunk async for chunk in stream.chunks()])
        assert (info.key, info.size) == (KEY, len(BODY))
        assert [(o.key, o.size, o.etag) for o in listing.objects] == [(KEY, len(BODY), info.etag)]
        assert listing.objects[0].last_modified is not None
        assert (stream.etag, stream.total_size, stream.start) == (info.etag, len(BODY), 0)
        assert data == BODY

    async def test_a_conditional_put_refuses_an_existing_key(
        self, store: Storage, body_file: Path, tmp_path: Path
    ) -> None:
        await put_file(store, KEY, body_file, {}, if_absent=True)
        other = tmp_path / "other.pipper"
        other.write_bytes(OTHER_BODY)
        with pytest.raises(VersionExistsError):
            await put_file(store, KEY, other, {}, if_absent=True)
        assert await read_all(store, KEY) == BODY

    async def test_an_unconditional_put_replaces_and_changes_the_etag(
        self, store: Storage, body_file: Path, tmp_path: Path
    ) -> None:
        await put_file(store, KEY, body_file, {}, if_absent=True)
        before, _ = await store.head(KEY)
        other = tmp_path / "other.pipper"
        other.write_bytes(OTHER_BODY)
        await put_file(store, KEY, other, {}, if_absent=False)
        after, _ = await store.head(KEY)
        assert await read_all(store, KEY) == OTHER_BODY
        assert after.etag != before.etag
        assert after.size == len(OTHER_BODY)

    async def test_a_body_other_than_its_content_md5_is_refused(
        self, store: Storage, body_file: Path
    ) -> None:
        other_md5 = base64.b64encode(hashlib.md5(OTHER_BODY).digest()).decode()
        with pytest.raises(IntegrityError):
            await put_file(store, KEY, body_file, {}, if_absent=True, content_md5=other_md5)
        with pytest.raises(NotFoundError):
            await store.head(KEY)
        right_md5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()
        await put_file(store, KEY, body_file, {}, if_absent=True, content_md5=right_md5)
        assert await read_all(store, KEY) == BODY

    async def test_metadata_comes_back_from_head_and_get(self, store: Storage) -> None:
        self.seed(store, KEY, BODY, {"sha256": "cd" * 32, "name": "alpha"})
        _, metadata = await store.head(KEY)
        async with store.get(KEY) as stream:
            streamed = dict(stream.metadata)
        expected = {"sha256": "cd" * 32, "name": "alpha"} if self.keeps_metadata else {}
        assert dict(metadata) == expected
        assert streamed == expected

    # -- compare-and-swap -----------------------------------------------------------------

    async def test_a_put_returns_the_etag_that_reads_give(self, store: Storage) -> None:
        etag = await store.put(KEY, io.BytesIO(BODY), {}, if_absent=True)
        info, _ = await store.head(KEY)
        listed = (await store.list("pipper/alpha/")).objects
        async with store.get(KEY) as stream:
            streamed = stream.etag
        assert etag and etag == info.etag == listed[0].etag == streamed

    async def test_a_write_tied_to_the_etag_read_replaces_the_object(self, store: Storage) -> None:
        first = await store.put(KEY, io.BytesIO(BODY), {}, if_absent=True)
        second = await store.put(KEY, io.BytesIO(OTHER_BODY), {}, if_absent=False, if_match=first)
        assert second != first
        assert await read_all(store, KEY) == OTHER_BODY
        assert (await store.head(KEY))[0].etag == second

    async def test_a_write_tied_to_an_old_etag_conflicts_and_stores_nothing(
        self, store: Storage
    ) -> None:
        old = await store.put(KEY, io.BytesIO(BODY), {}, if_absent=True)
        self.seed(store, KEY, OTHER_BODY, {})  # another writer, meanwhile
        with pytest.raises(WriteConflict):
            await store.put(KEY, io.BytesIO(b"stale update"), {}, if_absent=False, if_match=old)
        assert await read_all(store, KEY) == OTHER_BODY

    async def test_a_write_tied_to_an_etag_of_a_key_that_is_gone_conflicts(
        self, store: Storage
    ) -> None:
        etag = await store.put(KEY, io.BytesIO(BODY), {}, if_absent=True)
        await store.delete(KEY)
        with pytest.raises(WriteConflict):
            await store.put(KEY, io.BytesIO(OTHER_BODY), {}, if_absent=False, if_match=etag)
        with pytest.raises(NotFoundError):
            await store.head(KEY)

    async def test_racing_compare_and_swap_writers_lose_no_update(self, store: Storage) -> None:
        """Eight writers append four entries each to one JSON list, reading it again after
        every conflict: all 32 entries are there in the end."""
        key = "pipper/~simple/alpha/index.json"
        await store.put(key, io.BytesIO(b"[]"), {}, if_absent=True)

        async def append(entry: str) -> None:
            while True:
                async with store.get(key) as stream:
                    data = b"".join([chunk async for chunk in stream.chunks()])
                    etag = stream.etag
                body = json.dumps([*json.loads(data), entry]).encode()
                try:
                    await store.put(key, io.BytesIO(body), {}, if_absent=False, if_match=etag)
                    return
                except WriteConflict:
                    continue

        async def writer(number: int) -> None:
            for step in range(4):
                await append(f"{number}-{step}")

        async with anyio.create_task_group() as tg:
            for number in range(8):
                tg.start_soon(writer, number)
        entries = json.loads(await read_all(store, key))
        assert sorted(entries) == sorted(f"{n}-{s}" for n in range(8) for s in range(4))

    async def test_a_key_ending_in_a_slash_is_an_object_where_the_store_holds_one(
        self, store: Storage
    ) -> None:
        key = "pipper/~simple/alpha/"
        page = b'{"files": []}'
        if not self.folder_keys:
            with pytest.raises(FolderKeyUnsupported):
                await store.put(key, io.BytesIO(page), {}, if_absent=False)
            return
        await store.put(key, io.BytesIO(page), {}, if_absent=False)
        await store.put(key + "index.html", io.BytesIO(b"<html>"), {}, if_absent=False)
        assert await read_all(store, key) == page
        assert [o.key for o in (await store.list(key)).objects] == [key, key + "index.html"]

    # -- reading and resuming -------------------------------------------------------------

    async def test_a_missing_object_is_not_found(self, store: Storage) -> None:
        with pytest.raises(NotFoundError):
            await store.head("pipper/ghost/v1-0-0.pipper")
        with pytest.raises(NotFoundError):
            await read_all(store, "pipper/ghost/v1-0-0.pipper")

    async def test_a_ranged_get_resumes_where_the_first_left_off(self, store: Storage) -> None:
        self.seed(store, KEY, BODY, {})
        info, _ = await store.head(KEY)
        async with store.get(KEY, start=5000, if_match=info.etag) as stream:
            rest = b"".join([chunk async for chunk in stream.chunks()])
        assert rest == BODY[5000:]
        assert (stream.start, stream.total_size, stream.etag) == (5000, len(BODY), info.etag)

    async def test_if_match_on_a_changed_object_raises_object_changed(self, store: Storage) -> None:
        self.seed(store, KEY, BODY, {})
        old, _ = await store.head(KEY)
        self.seed(store, KEY, OTHER_BODY, {})
        with pytest.raises(ObjectChanged):
            await read_all(store, KEY, start=5000, if_match=old.etag)
        assert await read_all(store, KEY) == OTHER_BODY

    # -- listing --------------------------------------------------------------------------

    async def test_a_listing_is_sorted_and_scoped_to_its_prefix(self, store: Storage) -> None:
        keys = ["p/b/v2.pipper", "p/a/v1.pipper", "p/ab/v1.pipper", "q/a/v1.pipper"]
        self.seed_many(store, {key: key.encode() for key in keys})
        everything = await store.list("p/")
        only_a = await store.list("p/a/")
        assert [o.key for o in everything.objects] == [
            "p/a/v1.pipper",
            "p/ab/v1.pipper",
            "p/b/v2.pipper",
        ]
        assert [o.key for o in only_a.objects] == ["p/a/v1.pipper"]
        assert not everything.truncated and everything.prefixes == ()
        assert (await store.list("nothing/")).objects == ()

    async def test_a_delimiter_lists_folders_apart_from_objects(self, store: Storage) -> None:
        keys = ["p/a/v1.pipper", "p/a/v2.pipper", "p/b/v1.pipper", "p/top.txt"]
        self.seed_many(store, {key: b"x" for key in keys})
        listing = await store.list("p/", delimiter="/")
        assert listing.prefixes == ("p/a/", "p/b/")
        assert [o.key for o in listing.objects] == ["p/top.txt"]
        inside = await store.list("p/a/", delimiter="/")
        assert [o.key for o in inside.objects] == ["p/a/v1.pipper", "p/a/v2.pipper"]

    async def test_a_limit_truncates_only_a_longer_listing(self, store: Storage) -> None:
        self.seed_many(store, {f"p/k{i}/v1.pipper": b"x" for i in range(5)})
        short = await store.list("p/", limit=3)
        exact = await store.list("p/", limit=5)
        roomy = await store.list("p/", limit=10)
        assert [o.key for o in short.objects] == [f"p/k{i}/v1.pipper" for i in range(3)]
        assert short.truncated
        assert (len(exact.objects), exact.truncated) == (5, False)
        assert (len(roomy.objects), roomy.truncated) == (5, False)

    async def test_a_listing_goes_on_past_one_page(self, store: Storage) -> None:
        keys = [f"p/pkg{i:04d}/v1.pipper" for i in range(PAGED)]
        self.seed_many(store, {key: b"x" for key in keys})
        whole = await store.list("p/")
        capped = await store.list("p/", limit=1000)
        assert [o.key for o in whole.objects] == keys
        assert not whole.truncated
        assert [o.key for o in capped.objects] == keys[:1000]
        assert capped.truncated

    # -- presigning -----------------------------------------------------------------------

    async def test_a_presigned_url_names_the_object(self, store: Storage) -> None:
        self.seed(store, KEY, BODY, {})
        url = await store.presign(KEY, 600)
        assert url.split("?")[0].endswith("alpha/v1-0-0.pipper")
