"""The index writer on the in-memory store: what one publish leaves, racing publishers, removals,
yanks, and a store that cannot hold keys ending in ``/``."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from pathlib import Path

import anyio
import pytest

from pipper import simple
from pipper.bundle import read_bundle
from pipper.keys import bundle_key
from pipper.repositories import Repository
from pipper.simple import IndexedBundle
from pipper.simple.check import compare, rebuild
from pipper.simple.pages import IndexPageError, html_serial, parse_project, parse_root
from pipper.simple.writer import IndexWriter
from pipper.storage.memory import MemoryStorage
from tests.lib.wheels import make_bundle

pytestmark = pytest.mark.anyio

REPOSITORY = Repository(bucket="team")
SIMPLE = "pipper/~simple/"


async def publish(
    store: MemoryStorage, tmp_path: Path, name: str, version: str, **bundle_options: object
) -> IndexedBundle:
    """What ``pipper publish`` does: put the bundle, then index its wheel from the open file."""
    path = make_bundle(tmp_path / f"{name}-{version}", name, version, **bundle_options)  # type: ignore[arg-type]
    meta = read_bundle(path)
    key = bundle_key("pipper", name, version)
    with path.open("rb") as handle:
        etag = await store.put(key, handle, {}, if_absent=True)
        bundle = IndexedBundle(key, etag, name, version)
        await simple.add(store, REPOSITORY, bundle, handle, meta)
    return bundle


def read(store: MemoryStorage, key: str) -> bytes:
    return store.objects[key].data


def wheel_in(tmp_path: Path, name: str, version: str) -> bytes:
    """The wheel bytes inside the bundle ``publish`` made."""
    path = next((tmp_path / f"{name}-{version}").glob("*.pipper"))
    with zipfile.ZipFile(path) as zf:
        return zf.read("package.whl")


async def test_a_publish_puts_the_wheel_its_metadata_and_every_page(tmp_path: Path) -> None:
    store = MemoryStorage()
    await publish(store, tmp_path, "alpha_pkg", "1.0.0", requires=["beta_pkg>=1"])
    folder = SIMPLE + "alpha-pkg/"
    wheel_key = folder + "alpha_pkg-1.0.0-py3-none-any.whl"
    wheel = wheel_in(tmp_path, "alpha_pkg", "1.0.0")
    assert read(store, wheel_key) == wheel
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        metadata = zf.read("alpha_pkg-1.0.0.dist-info/METADATA")
    assert read(store, wheel_key + ".metadata") == metadata  # PEP 658: the bytes exactly
    page = parse_project(read(store, folder + "index.json"), "page")
    (file,) = page.files
    assert file.sha256 == hashlib.sha256(wheel).hexdigest()
    assert file.metadata_sha256 == hashlib.sha256(metadata).hexdigest()
    assert (file.bundle, file.size) == ("pipper/alpha_pkg/v1-0-0.pipper", len(wheel))
    assert file.bundle_etag == store.objects["pipper/alpha_pkg/v1-0-0.pipper"].etag
    assert read(store, folder) == read(store, folder + "index.json")  # what uv asks for
    assert store.objects[folder].content_type == "application/vnd.pypi.simple.v1+json"
    assert store.objects[folder + "index.html"].content_type == "text/html"
    assert b"alpha_pkg-1.0.0-py3-none-any.whl#sha256=" in read(store, folder + "index.html")
    root = parse_root(read(store, SIMPLE + "index.json"), "root")
    assert (root.projects, root.folder_pages) == (("alpha-pkg",), True)
    assert read(store, SIMPLE) == read(store, SIMPLE + "index.json")
    assert b'href="alpha-pkg/"' in read(store, SIMPLE + "index.html")
    assert (await compare(store, REPOSITORY)).current


async def test_requires_python_comes_from_the_wheels_metadata(tmp_path: Path) -> None:
    store = MemoryStorage()
    path = make_bundle(tmp_path / "b", "alpha_pkg", "1.0.0")
    with zipfile.ZipFile(path) as zf:
        wheel = zf.read("package.whl")
    # A wheel whose METADATA says Requires-Python, rebundled as the original would.
    patched = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(wheel)) as src, zipfile.ZipFile(patched, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("METADATA"):
                data = data.replace(
                    b"Version: 1.0.0\n", b"Version: 1.0.0\nRequires-Python: >=3.10\n"
                )
            dst.writestr(info, data)
    meta_bytes = zipfile.ZipFile(path).read("package.meta")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("package.whl", patched.getvalue())
        zf.writestr("package.meta", meta_bytes)
    meta = read_bundle(path)
    with path.open("rb") as handle:
        etag = await store.put("pipper/alpha_pkg/v1-0-0.pipper", handle, {}, if_absent=True)
        bundle = IndexedBundle("pipper/alpha_pkg/v1-0-0.pipper", etag, "alpha_pkg", "1.0.0")
        entry = await simple.add(store, REPOSITORY, bundle, handle, meta)
    assert entry.requires_python == ">=3.10"
    assert b'data-requires-python="&gt;=3.10"' in read(store, SIMPLE + "alpha-pkg/index.html")


async def test_eight_racing_publishers_all_end_up_in_every_page(tmp_path: Path) -> None:
    store = MemoryStorage()
    versions = [f"1.{minor}.0" for minor in range(8)]
    folder = SIMPLE + "alpha-pkg/"
    store.hold(folder + "index.json", len(versions))  # all eight read the page before any writes
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for version in versions:
                tg.start_soon(publish, store, tmp_path, "alpha_pkg", version)
    page = parse_project(read(store, folder + "index.json"), "page")
    assert sorted(f.version for f in page.files) == sorted(versions)
    assert read(store, folder) == read(store, folder + "index.json")
    assert html_serial(read(store, folder + "index.html")) == page.serial
    assert page.serial == 8  # one compare-and-swap write each, none lost
    conflicts = [c for c in store.history if c.method == "put" and c.key == folder + "index.json"]
    assert len(conflicts) >= 8 + 7  # seven of the first eight writes lost and were tried again
    assert (await compare(store, REPOSITORY)).current


async def test_a_rendered_page_is_never_put_back_to_an_older_state(tmp_path: Path) -> None:
    store = MemoryStorage()
    await publish(store, tmp_path, "alpha_pkg", "1.0.0")
    html_key = SIMPLE + "alpha-pkg/index.html"
    newer = read(store, html_key).replace(
        b'content="1"', b'content="99"'
    )  # a later writer's page, as a slow writer finds it
    store.seed(html_key, newer)
    writer = IndexWriter(store, REPOSITORY)
    page = parse_project(read(store, SIMPLE + "alpha-pkg/index.json"), "page")
    await writer.publish(page)
    assert read(store, html_key) == newer


async def test_removing_the_last_file_takes_the_project_off_every_page(tmp_path: Path) -> None:
    store = MemoryStorage()
    one = await publish(store, tmp_path, "alpha_pkg", "1.0.0")
    two = await publish(store, tmp_path, "alpha_pkg", "2.0.0")
    folder = SIMPLE + "alpha-pkg/"
    await simple.forget(store, REPOSITORY, "alpha-pkg", [one.key])
    assert folder + "alpha_pkg-1.0.0-py3-none-any.whl" not in store.objects
    assert folder + "alpha_pkg-1.0.0-py3-none-any.whl.metadata" not in store.objects
    assert [f.version for f in parse_project(read(store, folder), "p").files] == ["2.0.0"]
    await simple.forget(store, REPOSITORY, "alpha-pkg", [two.key])
    assert folder not in store.objects and folder + "index.html" not in store.objects
    assert parse_project(read(store, folder + "index.json"), "p").files == ()
    assert parse_root(read(store, SIMPLE + "index.json"), "root").projects == ()


async def test_a_yank_shows_in_both_pages_and_an_unyank_takes_it_back(tmp_path: Path) -> None:
    store = MemoryStorage()
    bundle = await publish(store, tmp_path, "alpha_pkg", "1.0.0")
    folder = SIMPLE + "alpha-pkg/"
    await simple.mark_yanked(
        store, REPOSITORY, "alpha-pkg", [bundle.key], yanked=True, reason="bad"
    )
    assert json.loads(read(store, folder))["files"][0]["yanked"] == "bad"
    assert b'data-yanked="bad"' in read(store, folder + "index.html")
    await simple.mark_yanked(store, REPOSITORY, "alpha-pkg", [bundle.key], yanked=False)
    assert json.loads(read(store, folder))["files"][0]["yanked"] is False
    assert b"data-yanked" not in read(store, folder + "index.html")


async def test_a_store_without_folder_keys_gets_the_other_pages_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStorage(folder_keys=False)
    with caplog.at_level(logging.WARNING):
        await publish(store, tmp_path, "alpha_pkg", "1.0.0")
        await publish(store, tmp_path, "beta_pkg", "1.0.0")
    warnings = [r for r in caplog.records if "ends in '/'" in r.getMessage()]
    assert len(warnings) == 1
    assert parse_root(read(store, SIMPLE + "index.json"), "root").folder_pages is False
    assert SIMPLE + "beta-pkg/index.html" in store.objects
    # The second publisher read the root page's note and never tried such a key.
    slash_puts = [c for c in store.history if c.method == "put" and c.key.endswith("/")]
    assert all(c.key in (SIMPLE, SIMPLE + "alpha-pkg/") for c in slash_puts)
    assert (await compare(store, REPOSITORY)).current


async def test_a_page_pipper_did_not_write_stops_a_publish_and_a_rebuild_replaces_it(
    tmp_path: Path,
) -> None:
    store = MemoryStorage()
    await publish(store, tmp_path, "alpha_pkg", "1.0.0")
    store.seed(SIMPLE + "alpha-pkg/index.json", b"<html>someone's page</html>")
    with pytest.raises(IndexPageError, match="pipper index rebuild"):
        await IndexWriter(store, REPOSITORY).update("alpha-pkg", lambda page: [])
    report = await compare(store, REPOSITORY)
    assert {d.kind for d in report.differences} >= {"page", "missing"}
    result = await rebuild(store, REPOSITORY)
    assert result.after.current, result.after.differences
    page = parse_project(read(store, SIMPLE + "alpha-pkg/index.json"), "p")
    assert [f.version for f in page.files] == ["1.0.0"]
