"""The package index over the in-memory store: what each question costs in listings.

A resolving run lists the whole prefix once and answers every package from it; a repository too
large for one listing is remembered as such and listed package by package; names match across
PEP 503 spellings; remembered listings answer an offline run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from pipper.cache import Cache
from pipper.errors import OfflineError
from pipper.index import CATALOG_KEYS, PackageIndex
from pipper.repositories import Repository
from pipper.storage.memory import Call, MemoryStorage

pytestmark = pytest.mark.anyio

REPOSITORY = Repository(bucket="team")  # keys under the default prefix, pipper/


def seeded(*keys: str) -> MemoryStorage:
    store = MemoryStorage()
    for key in keys:
        store.seed(key, key.encode())
    return store


@pytest.fixture
def store() -> MemoryStorage:
    return seeded(
        "pipper/a/v1-0-0.pipper",
        "pipper/a/v2-0-0__pre_rc1.pipper",
        "pipper/a/v1-10-0.pipper",
        "pipper/b/v0-1-0.pipper",
        "pipper/Alpha_Pkg/v3-0-0.pipper",
    )


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


async def test_versions_are_parsed_from_the_keys_and_sorted_oldest_first(
    store: MemoryStorage,
) -> None:
    index = PackageIndex(REPOSITORY, store, None)
    found = await index.versions("a")
    assert [c.version for c in found] == ["1.0.0", "1.10.0", "2.0.0rc1"]
    first = found[0]
    assert (first.name, first.key, first.size) == ("a", "pipper/a/v1-0-0.pipper", 22)
    assert first.etag == store.objects[first.key].etag
    assert await index.versions("nothing") == []


async def test_the_whole_prefix_is_listed_once_for_every_package(store: MemoryStorage) -> None:
    index = PackageIndex(REPOSITORY, store, None, whole_prefix=True)
    assert len(await index.versions("a")) == 3
    assert len(await index.versions("b")) == 1
    assert len(await index.versions("alpha-pkg")) == 1
    assert await index.versions("ghost") == []
    assert store.history == [Call("list", "pipper/")]
    assert index.listings == 1


async def test_without_whole_prefix_each_package_is_listed_on_its_own(
    store: MemoryStorage,
) -> None:
    index = PackageIndex(REPOSITORY, store, None)
    await index.versions("a")
    await index.versions("b")
    await index.versions("a")  # asked again: answered from memory
    assert store.history == [Call("list", "pipper/a/"), Call("list", "pipper/b/")]
    assert index.listings == 2


async def test_another_spelling_finds_the_folder_through_the_package_names(
    store: MemoryStorage,
) -> None:
    index = PackageIndex(REPOSITORY, store, None)
    found = await index.versions("alpha.pkg")
    assert [(c.name, c.version) for c in found] == [("Alpha_Pkg", "3.0.0")]
    assert [call.key for call in store.history] == [
        "pipper/alpha.pkg/",  # nothing under the spelling asked for...
        "pipper/",  # ...so the folders are listed...
        "pipper/Alpha_Pkg/",  # ...and the one with the same PEP 503 name read
    ]
    assert await index.package_names() == ["Alpha_Pkg", "a", "b"]
    assert index.listings == 3


async def test_concurrent_questions_about_one_package_list_it_once(store: MemoryStorage) -> None:
    index = PackageIndex(REPOSITORY, store, None)
    answers: list[int] = []

    async def ask() -> None:
        answers.append(len(await index.versions("a")))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(ask)
    assert answers == [3] * 5
    assert store.calls["list"] == 1


async def test_a_repository_too_large_for_one_listing_is_remembered_as_such(
    cache: Cache,
) -> None:
    keys = [f"pipper/p{i:04d}/v1-0-0.pipper" for i in range(CATALOG_KEYS)]
    store = seeded(*keys, "pipper/zz/v1-0-0.pipper")
    index = PackageIndex(REPOSITORY, store, cache, whole_prefix=True)
    assert [c.version for c in await index.versions("zz")] == ["1.0.0"]
    # The whole-prefix page came back truncated, so the package was listed on its own.
    assert store.history == [Call("list", "pipper/"), Call("list", "pipper/zz/")]

    store.reset_counts()
    again = PackageIndex(REPOSITORY, store, cache, whole_prefix=True)
    await again.versions("p0001")
    assert store.history == [Call("list", "pipper/p0001/")]  # no second try at the whole prefix


async def test_remembered_listings_answer_an_offline_run(
    store: MemoryStorage, cache: Cache
) -> None:
    online = PackageIndex(REPOSITORY, store, cache, whole_prefix=True)
    assert len(await online.versions("a")) == 3
    store.reset_counts()
    offline = PackageIndex(REPOSITORY, None, cache, offline=True)
    assert [c.version for c in await offline.versions("a")] == ["1.0.0", "1.10.0", "2.0.0rc1"]
    assert [c.version for c in await offline.versions("b")] == ["0.1.0"]
    assert store.requests == 0


async def test_offline_without_a_remembered_listing_says_what_to_do(cache: Cache) -> None:
    offline = PackageIndex(REPOSITORY, None, cache, offline=True)
    with pytest.raises(OfflineError, match="run the same command once without --offline"):
        await offline.versions("a")
    with pytest.raises(OfflineError, match="needs the network"):
        await offline.package_names()


async def test_keys_that_are_not_bundles_are_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = seeded("pipper/a/v1-0-0.pipper", "pipper/a/notes.txt", "pipper/a/vX.pipper")
    with caplog.at_level(logging.WARNING, logger="pipper.index"):
        found = await PackageIndex(REPOSITORY, store, None).versions("a")
    assert [c.version for c in found] == ["1.0.0"]
    skipped = sorted(r.getMessage() for r in caplog.records)
    assert skipped == [
        "skipping pipper/a/notes.txt: not a pipper bundle key",
        "skipping pipper/a/vX.pipper: not a pipper bundle key",
    ]


async def test_another_root_prefix_scopes_every_listing() -> None:
    store = seeded("team/pkgs/a/v1-0-0.pipper", "pipper/a/v9-0-0.pipper")
    repository = Repository(bucket="team", root_prefix="team/pkgs")
    whole = PackageIndex(repository, store, None, whole_prefix=True)
    assert [c.version for c in await whole.versions("a")] == ["1.0.0"]
    assert store.history == [Call("list", "team/pkgs/")]


# -- the simple index beside the bundles (<prefix>/~simple/) -------------------------------------


def with_simple_index(store: MemoryStorage, projects: int, files: int) -> None:
    """What ``pipper publish`` leaves under ``~simple/``: pages and wheels, sorting last."""
    store.seed("pipper/~simple/", b"{}")
    store.seed("pipper/~simple/index.html", b"<html>")
    for p in range(projects):
        for f in range(files):
            store.seed(f"pipper/~simple/p{p:03d}/p{p:03d}-{f}.0-py3-none-any.whl", b"w")


async def test_a_listing_cut_short_inside_the_simple_index_still_answers_for_every_package(
    cache: Cache,
) -> None:
    bundles = [f"pipper/pkg{i:03d}/v1-0-0.pipper" for i in range(300)]
    store = seeded(*bundles)
    with_simple_index(store, 300, 3)  # 900 more keys: the listing stops at 1,000, inside them
    index = PackageIndex(REPOSITORY, store, cache, whole_prefix=True)
    assert [c.key for c in await index.versions("pkg299")] == ["pipper/pkg299/v1-0-0.pipper"]
    assert await index.versions("ghost") == []
    assert store.history == [Call("list", "pipper/")]  # one request for every package
    remembered = cache.load_listing(REPOSITORY.id, "@catalog")
    assert remembered is not None and len(remembered) == 300  # the index keys are not kept


async def test_a_listing_cut_short_among_the_bundles_still_lists_package_by_package(
    cache: Cache,
) -> None:
    store = seeded(*(f"pipper/pkg{i:04d}/v1-0-0.pipper" for i in range(CATALOG_KEYS + 1)))
    with_simple_index(store, 2, 2)
    index = PackageIndex(REPOSITORY, store, cache, whole_prefix=True)
    assert len(await index.versions("pkg1000")) == 1
    assert store.history == [Call("list", "pipper/"), Call("list", "pipper/pkg1000/")]


@pytest.mark.parametrize("whole_prefix", [True, False])
async def test_the_simple_index_folder_is_no_package(
    store: MemoryStorage, caplog: pytest.LogCaptureFixture, whole_prefix: bool
) -> None:
    from pipper.catalog import list_packages

    with_simple_index(store, 2, 1)
    store.seed("pipper/~simple/index.json", b"{}")
    index = PackageIndex(REPOSITORY, store, None, whole_prefix=whole_prefix)
    with caplog.at_level(logging.WARNING):
        listed = await list_packages(index)
    assert await index.package_names() == ["Alpha_Pkg", "a", "b"]
    assert [summary.name for summary in listed] == ["Alpha_Pkg", "a", "b"]
    assert "~simple" not in caplog.text  # nothing under it was taken for a bundle
