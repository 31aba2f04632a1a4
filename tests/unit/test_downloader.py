"""The downloader over the in-memory store: streaming, verifying, resuming, giving up.

The store's fault hooks break bodies off after K bytes, replace an object mid-download and fail
requests, so the retry and resume logic is exercised in milliseconds, byte for byte.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipper.bundle import extract_wheel
from pipper.cache import Cache
from pipper.downloader import Downloader
from pipper.errors import BundleError, IntegrityError, NetworkError
from pipper.models import Candidate
from pipper.storage.memory import Call, MemoryStorage
from tests.lib.files import cache_blobs, sha256_of
from tests.lib.wheels import make_bundle

pytestmark = pytest.mark.anyio

REPO_ID = "memory://team/pipper"
KEY = "pipper/solo/v1-0-0.pipper"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "published", "solo", "1.0.0", payload_size=300_000)


@pytest.fixture
def store(bundle: Path) -> MemoryStorage:
    storage = MemoryStorage(chunk_size=64 * 1024)
    storage.seed(KEY, bundle.read_bytes(), {"sha256": sha256_of(bundle)})
    return storage


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def candidate_of(store: MemoryStorage, key: str = KEY) -> Candidate:
    stored = store.objects[key]
    return Candidate("solo", "1.0.0", key, len(stored.data), stored.etag)


def leftovers(cache: Cache) -> list[Path]:
    return sorted(cache.tmp.iterdir()) if cache.tmp.exists() else []


async def test_a_fetch_streams_verifies_and_commits_to_the_cache(
    store: MemoryStorage, cache: Cache, bundle: Path
) -> None:
    seen: list[int] = []
    downloader = Downloader(store, cache, REPO_ID, on_bytes=seen.append)
    fetched = await downloader.fetch(candidate_of(store))
    assert fetched.source == "network"
    assert fetched.digest == sha256_of(bundle)
    assert fetched.path == cache.blob_path(fetched.digest)
    assert fetched.path.read_bytes() == bundle.read_bytes()
    assert (fetched.meta.name, fetched.meta.version) == ("solo", "1.0.0")
    assert sum(seen) == downloader.bytes == bundle.stat().st_size
    assert downloader.retries == 0
    assert store.calls["get"] == 1
    assert leftovers(cache) == []


async def test_a_broken_body_is_resumed_from_where_it_broke(
    store: MemoryStorage, cache: Cache, bundle: Path
) -> None:
    store.cut(after=100_000)
    downloader = Downloader(store, cache, REPO_ID)
    fetched = await downloader.fetch(candidate_of(store))
    etag = store.objects[KEY].etag
    assert store.history == [Call("get", KEY), Call("get", KEY, 100_000, etag)]
    assert fetched.path.read_bytes() == bundle.read_bytes()
    assert downloader.retries == 1
    assert downloader.bytes == bundle.stat().st_size  # no byte read twice


async def test_several_breaks_are_each_resumed(store: MemoryStorage, cache: Cache) -> None:
    store.cut(after=50_000, times=2)
    downloader = Downloader(store, cache, REPO_ID)
    fetched = await downloader.fetch(candidate_of(store))
    assert [call.start for call in store.history] == [0, 50_000, 100_000]
    assert downloader.retries == 2
    assert sha256_of(fetched.path) == fetched.digest


async def test_a_body_that_keeps_breaking_is_given_up_on(
    store: MemoryStorage, cache: Cache
) -> None:
    store.cut(after=1000, times=10)
    downloader = Downloader(store, cache, REPO_ID, attempts=2)
    with pytest.raises(NetworkError, match=f"giving up on {KEY} after 2 broken transfers"):
        await downloader.fetch(candidate_of(store))
    assert store.calls["get"] == 2
    assert cache_blobs(cache.root) == []
    assert leftovers(cache) == []


async def test_an_object_replaced_mid_download_is_fetched_again_whole(
    store: MemoryStorage, cache: Cache, tmp_path: Path
) -> None:
    newer = make_bundle(tmp_path / "republished", "solo", "1.0.0", payload_size=200_000)
    old_etag = store.objects[KEY].etag
    store.cut(
        after=80_000,
        then=lambda: store.seed(KEY, newer.read_bytes(), {"sha256": sha256_of(newer)}),
    )
    downloader = Downloader(store, cache, REPO_ID)
    fetched = await downloader.fetch(candidate_of(store))
    # The resume was tied to the first ETag, so it was refused, and the new object read whole.
    assert store.history == [Call("get", KEY), Call("get", KEY, 80_000, old_etag), Call("get", KEY)]
    assert fetched.path.read_bytes() == newer.read_bytes()
    assert fetched.digest == sha256_of(newer)


async def test_a_request_that_cannot_be_opened_is_not_retried_here(
    store: MemoryStorage, cache: Cache
) -> None:
    store.fail("get", NetworkError("the store kept failing"))
    with pytest.raises(NetworkError, match="the store kept failing"):
        await Downloader(store, cache, REPO_ID).fetch(candidate_of(store))
    assert store.calls["get"] == 1  # the storage already retried it in rounds


async def test_bytes_that_do_not_match_the_published_sha256_are_discarded(
    store: MemoryStorage, cache: Cache, bundle: Path
) -> None:
    store.seed(KEY, bundle.read_bytes(), {"sha256": "0" * 64})
    with pytest.raises(IntegrityError, match="does not match the published 000000000000"):
        await Downloader(store, cache, REPO_ID).fetch(candidate_of(store))
    assert cache_blobs(cache.root) == []
    assert leftovers(cache) == []


def _damaged_inside(bundle: Path) -> bytes:
    """The bundle with one byte of its stored wheel changed: only a CRC-32 tells."""
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


async def test_without_a_published_sha256_each_entry_crc_is_checked(
    store: MemoryStorage, cache: Cache, bundle: Path
) -> None:
    store.seed(KEY, _damaged_inside(bundle))  # as the original publishes: no sha256
    with pytest.raises(BundleError, match="CRC"):
        await Downloader(store, cache, REPO_ID).fetch(candidate_of(store))
    assert cache_blobs(cache.root) == []


async def test_a_matching_published_sha256_is_the_whole_check(
    store: MemoryStorage, cache: Cache, bundle: Path, tmp_path: Path
) -> None:
    """The hash proves the bytes are the publisher's, so entries are not read for their CRCs;
    a bundle damaged before it was published is still refused where its wheel is read."""
    damaged = _damaged_inside(bundle)
    store.seed(KEY, damaged, {"sha256": hashlib.sha256(damaged).hexdigest()})
    fetched = await Downloader(store, cache, REPO_ID).fetch(candidate_of(store))
    assert fetched.path.read_bytes() == damaged
    with pytest.raises(BundleError, match="CRC"):
        extract_wheel(fetched.path, tmp_path / "wheels")


async def test_another_packages_bundle_under_this_key_is_discarded(
    store: MemoryStorage, cache: Cache, tmp_path: Path
) -> None:
    other = make_bundle(tmp_path / "other", "other", "1.0.0")
    store.seed(KEY, other.read_bytes(), {"sha256": sha256_of(other)})
    with pytest.raises(BundleError) as caught:
        await Downloader(store, cache, REPO_ID).fetch(candidate_of(store))
    assert caught.value.message.startswith(f"{KEY}: ")
    assert caught.value.message.endswith("; the download was discarded")
    assert ".tmp-" not in caught.value.message
    assert cache_blobs(cache.root) == []


async def test_a_warm_fetch_reads_headers_only(
    store: MemoryStorage, cache: Cache, bundle: Path
) -> None:
    first = await Downloader(store, cache, REPO_ID).fetch(candidate_of(store))
    warm = Downloader(store, cache, REPO_ID)
    again = await warm.fetch(candidate_of(store))
    assert (again.source, again.path, warm.bytes) == ("cache", first.path, 0)
    assert store.calls["get"] == 2


async def test_without_a_published_sha256_the_etag_index_names_the_blob(
    store: MemoryStorage, cache: Cache, bundle: Path
) -> None:
    store.seed(KEY, bundle.read_bytes())  # written by a tool that sets no metadata
    first = await Downloader(store, cache, REPO_ID).fetch(candidate_of(store))
    warm = Downloader(store, cache, REPO_ID)
    again = await warm.fetch(candidate_of(store))
    assert (first.source, again.source, warm.bytes) == ("network", "cache", 0)
    assert cache.lookup(REPO_ID, KEY, store.objects[KEY].etag) == first.digest


async def test_metadata_is_handed_over_before_the_body_is_read(
    store: MemoryStorage, cache: Cache, bundle: Path
) -> None:
    handed: list[dict[str, str]] = []
    await Downloader(store, cache, REPO_ID).fetch(
        candidate_of(store), on_metadata=lambda m: handed.append(dict(m))
    )
    assert handed == [{"sha256": sha256_of(bundle)}]
