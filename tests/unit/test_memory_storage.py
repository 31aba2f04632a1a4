"""The in-memory store's fault hooks and counters, which the unit tier's retry tests rely on."""

from __future__ import annotations

import anyio
import pytest

from pipper.errors import NetworkError
from pipper.storage.base import ObjectChanged, StreamInterrupted
from pipper.storage.memory import Call, MemoryStorage
from tests.lib.contract import read_all

pytestmark = pytest.mark.anyio

KEY = "pipper/a/v1-0-0.pipper"
DATA = bytes(range(256)) * 40


@pytest.fixture
def store() -> MemoryStorage:
    storage = MemoryStorage(chunk_size=1000)
    storage.seed(KEY, DATA, {"SHA256": "ab" * 32})
    return storage


async def test_fail_raises_for_the_next_calls_then_recovers(store: MemoryStorage) -> None:
    store.fail("head", NetworkError("the store is down"), times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="the store is down"):
            await store.head(KEY)
    info, metadata = await store.head(KEY)
    assert info.size == len(DATA)
    assert metadata == {"sha256": "ab" * 32}  # keys come back lower-cased, as from S3
    assert store.calls["head"] == 3
    assert store.requests == 3


async def test_fail_forever_for_one_key_leaves_the_others_alone(store: MemoryStorage) -> None:
    store.seed("pipper/b/v1-0-0.pipper", b"other")
    made: list[NetworkError] = []

    def fresh() -> NetworkError:
        made.append(NetworkError("never recovers"))
        return made[-1]

    store.fail("get", fresh, times=None, key=KEY)
    for _ in range(5):
        with pytest.raises(NetworkError):
            await read_all(store, KEY)
    assert await read_all(store, "pipper/b/v1-0-0.pipper") == b"other"
    assert len(made) == 5 and len({id(e) for e in made}) == 5


async def test_cut_breaks_a_body_off_after_k_bytes_once(store: MemoryStorage) -> None:
    store.cut(after=2500)
    received = bytearray()
    with pytest.raises(StreamInterrupted):
        async with store.get(KEY) as stream:
            async for chunk in stream.chunks():
                received += chunk
    assert bytes(received) == DATA[:2500]
    rest = await read_all(store, KEY, start=2500, if_match=stream.etag)
    assert bytes(received) + rest == DATA
    assert store.history[-1] == Call("get", KEY, 2500, stream.etag)


async def test_cut_then_can_replace_the_object_before_the_resume(store: MemoryStorage) -> None:
    store.cut(after=100, then=lambda: store.seed(KEY, b"replaced" * 100))
    with pytest.raises(StreamInterrupted):
        async with store.get(KEY) as stream:
            async for _ in stream.chunks():
                pass
    with pytest.raises(ObjectChanged):
        await read_all(store, KEY, start=100, if_match=stream.etag)
    assert await read_all(store, KEY) == b"replaced" * 100


async def test_hold_makes_every_held_reader_see_the_state_before_any_of_them_writes(
    store: MemoryStorage,
) -> None:
    store.hold(KEY, 3)
    seen: list[bytes] = []

    async def read_then_write(mark: bytes) -> None:
        seen.append(await read_all(store, KEY))
        store.seed(KEY, mark)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_then_write, b"one")
            await anyio.wait_all_tasks_blocked()
            assert seen == []  # the first reader waits for the other two
            tg.start_soon(read_then_write, b"two")
            tg.start_soon(read_then_write, b"three")
    assert seen == [DATA, DATA, DATA]
    assert await read_all(store, KEY) in (b"one", b"two", b"three")  # the hold is used up


async def test_an_open_stream_keeps_the_bytes_it_opened(store: MemoryStorage) -> None:
    async with store.get(KEY) as stream:
        chunks = stream.chunks()
        first = await chunks.__anext__()
        store.seed(KEY, b"new bytes")
        rest = b"".join([chunk async for chunk in chunks])
    assert first + rest == DATA


async def test_each_listing_page_is_one_request() -> None:
    store = MemoryStorage(page_size=2)
    for i in range(5):
        store.seed(f"p/k{i}", b"x")
    whole = await store.list("p/")
    assert (len(whole.objects), whole.truncated, store.calls["list"]) == (5, False, 3)
    store.reset_counts()
    capped = await store.list("p/", limit=2)
    assert (len(capped.objects), capped.truncated, store.calls["list"]) == (2, True, 1)
    assert store.history == [Call("list", "p/")]


def test_nonsense_hooks_are_refused() -> None:
    store = MemoryStorage()
    with pytest.raises(ValueError):
        store.fail("get", NetworkError("x"), times=0)
    with pytest.raises(ValueError):
        store.cut(after=-1)
    with pytest.raises(ValueError):
        MemoryStorage(page_size=0)
