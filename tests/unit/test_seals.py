"""Seals: a blob checked in one run is trusted by its ``lstat`` in the next, until its file
changes; the seal file is a hint that can only cost a rehash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from pipper.bundle import read_bundle
from pipper.cache import Cache
from pipper.cache import seals as seals_module
from pipper.downloader import from_cache
from pipper.models import Candidate
from tests.lib.wheels import make_bundle


def _new_cache(root: Path) -> Cache:
    """Another run's view of the same folder: nothing known in memory."""
    made = Cache(root)
    made.prepare()
    return made


def _commit(cache: Cache, source: Path) -> str:
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    with cache.pending() as part:
        part.handle.write(data)
        part.commit(digest)
    return digest


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "bundles", "lib", "1.0.0", dependencies=["dep"])


def _sealed_run(root: Path, bundle: Path) -> tuple[str, dict[str, Any]]:
    """A run that downloaded ``bundle``: it checked the bytes, and seals them at its end."""
    cache = _new_cache(root)
    digest = _commit(cache, bundle)
    meta = dict(read_bundle(cache.blob_path(digest)).data)
    cache.used(digest, meta)
    cache.seals.flush()
    return digest, meta


def test_a_blob_checked_in_one_run_is_vouched_for_in_the_next(root: Path, bundle: Path) -> None:
    digest, meta = _sealed_run(root, bundle)
    found = _new_cache(root).sealed_meta(digest)
    assert found == (_new_cache(root).blob_path(digest), meta)
    assert _new_cache(root).verified(digest) == found[0]


def test_a_write_to_the_blob_breaks_its_seal_and_the_rehash_removes_it(
    root: Path, bundle: Path
) -> None:
    digest, _ = _sealed_run(root, bundle)
    path = _new_cache(root).blob_path(digest)
    size = path.stat().st_size
    os.chmod(path, 0o644)
    with path.open("r+b") as out:  # same size, other bytes: only the time tells
        out.write(b"X" * 16)
    assert path.stat().st_size == size
    later = _new_cache(root)
    assert later.sealed_meta(digest) is None
    assert later.verified(digest) is None
    assert not path.exists()


def test_a_hard_link_made_or_removed_keeps_the_seal(
    root: Path, bundle: Path, tmp_path: Path
) -> None:
    digest, meta = _sealed_run(root, bundle)
    path = _new_cache(root).blob_path(digest)
    vendor = tmp_path / "vendor.pipper"
    os.link(path, vendor)  # what ``download -d`` does, ...
    assert _new_cache(root).sealed_meta(digest) == (path, meta)
    vendor.unlink()  # ... and ``rm -r vendor`` before the next one
    assert _new_cache(root).sealed_meta(digest) == (path, meta)


def test_a_copy_put_in_its_place_is_another_file_and_is_rehashed(
    root: Path, bundle: Path, tmp_path: Path
) -> None:
    digest, _ = _sealed_run(root, bundle)
    path = _new_cache(root).blob_path(digest)
    st = path.stat()
    copy = tmp_path / "copy"
    shutil.copy2(path, copy)
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))  # even the time to the nanosecond
    os.replace(copy, path)
    later = _new_cache(root)
    assert later.sealed_meta(digest) is None
    assert later.verified(digest) == path  # the same bytes: the rehash keeps it


def test_what_a_seal_cannot_see_cache_verify_still_finds(root: Path, bundle: Path) -> None:
    """Bytes changed and the time set back on purpose pass the seal (as they pass uv's test of
    its own cache); ``cache verify`` rehashes every blob whatever its seal says."""
    digest, _ = _sealed_run(root, bundle)
    path = _new_cache(root).blob_path(digest)
    st = path.stat()
    os.chmod(path, 0o644)
    with path.open("r+b") as out:
        out.write(b"X" * 16)
    os.chmod(path, 0o444)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _new_cache(root).sealed_meta(digest) is not None
    report = _new_cache(root).verify_all()
    assert len(report.damaged) == 1
    assert not path.exists()
    assert _new_cache(root).sealed_meta(digest) is None


def test_the_end_of_a_run_touches_what_it_used(root: Path, bundle: Path) -> None:
    digest, _ = _sealed_run(root, bundle)
    cache = _new_cache(root)
    path = cache.blob_path(digest)
    os.utime(path, (1_000_000, 1_000_000))  # an old blob, as prune --older-than sees it
    assert cache.verified(digest) == path  # the seal is broken: rehashed, still good
    cache.seals.flush()
    assert path.stat().st_mtime > 1_000_000
    assert _new_cache(root).sealed_meta(digest) is not None  # sealed again, with its meta


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"seals": []}',
        b'{"seals": {"../../etc/passwd": [1, 2, 3, 4, null]}}',
        b'{"seals": {"DIGEST": [1, 2, 3]}}',
        b'{"seals": {"DIGEST": ["1", 2, 3, 4, null]}}',
        b'{"seals": {"DIGEST": [1, 2, 3, 4, "meta"]}}',
    ],
)
def test_a_seal_file_of_the_wrong_shape_vouches_for_nothing(
    root: Path, bundle: Path, content: bytes
) -> None:
    digest, _ = _sealed_run(root, bundle)
    (root / seals_module.SEALS).write_bytes(content.replace(b"DIGEST", digest.encode()))
    later = _new_cache(root)
    assert later.sealed_meta(digest) is None
    assert later.verified(digest) == later.blob_path(digest)


def test_two_runs_writing_at_once_keep_each_other_s_seals(root: Path, tmp_path: Path) -> None:
    first = make_bundle(tmp_path / "a", "alpha", "1.0.0")
    second = make_bundle(tmp_path / "b", "beta", "1.0.0")
    one, two = _new_cache(root), _new_cache(root)
    d1, d2 = _commit(one, first), _commit(two, second)
    assert two.sealed_meta(d2) is None  # ``two`` read the (empty) seals before ``one`` wrote
    one.used(d1, dict(read_bundle(first).data))
    two.used(d2, dict(read_bundle(second).data))
    one.seals.flush()
    two.seals.flush()
    later = _new_cache(root)
    assert later.sealed_meta(d1) is not None
    assert later.sealed_meta(d2) is not None


def test_only_the_most_recently_used_seals_are_kept(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seals_module, "KEEP", 2)
    digests = []
    for n in range(3):
        made = make_bundle(tmp_path / str(n), f"pkg{n}", "1.0.0")
        cache = _new_cache(root)
        digest = _commit(cache, made)
        cache.used(digest, dict(read_bundle(made).data))
        cache.seals.flush()
        digests.append(digest)
    kept = json.loads((root / seals_module.SEALS).read_bytes())["seals"]
    assert list(kept) == digests[1:]


def test_a_blob_found_damaged_is_not_sealed(root: Path, bundle: Path) -> None:
    cache = _new_cache(root)
    digest = _commit(cache, bundle)
    cache.used(digest, dict(read_bundle(bundle).data))
    path = cache.blob_path(digest)
    os.chmod(path, 0o644)
    path.write_bytes(b"damaged")
    assert cache.verified(digest) is None
    _commit(_new_cache(root), bundle)  # another run put a good copy back, unchecked by this one
    cache.seals.flush()
    assert _new_cache(root).sealed_meta(digest) is None


def test_prune_all_drops_the_seals(root: Path, bundle: Path) -> None:
    _sealed_run(root, bundle)
    cache = _new_cache(root)
    cache.prune(everything=True)
    assert not (root / seals_module.SEALS).exists()


def _candidate(name: str) -> Candidate:
    return Candidate(name, "1.0.0", f"pipper/{name}/v1-0-0.pipper", size=0, etag="")


def test_a_sealed_bundle_is_served_with_its_meta_and_still_checked_against_its_key(
    root: Path, bundle: Path
) -> None:
    digest, meta = _sealed_run(root, bundle)

    async def fetch(name: str) -> Any:
        return await from_cache(_new_cache(root), digest, _candidate(name))

    found = anyio.run(fetch, "lib")
    assert found is not None
    assert (found.meta.name, found.meta.dependencies) == ("lib", ("dep",))
    assert found.meta.data == meta
    assert anyio.run(fetch, "other") is None  # the key names another package


def test_a_sealed_blob_whose_wheel_is_ready_needs_no_worker_thread(
    root: Path, bundle: Path
) -> None:
    """An install's extraction (``also``) runs in a worker only when ``ready``, tried on the
    loop, finds nothing: a warm install hops to no thread for a wheel already extracted."""
    digest, _ = _sealed_run(root, bundle)
    threads: list[str] = []

    def also(hit: Any) -> Any:
        threads.append(threading.current_thread().name)
        return hit

    async def fetch(ready: Any) -> Any:
        return await from_cache(_new_cache(root), digest, _candidate("lib"), also=also, ready=ready)

    marked = anyio.run(fetch, lambda hit: replace(hit, source="ready"))
    assert marked is not None and marked.source == "ready" and threads == []
    found = anyio.run(fetch, lambda hit: None)
    assert found is not None and found.source == "cache"
    assert len(threads) == 1 and threads[0] != threading.main_thread().name


def test_prune_all_drops_botocore_s_kept_data_too(root: Path, tmp_path: Path) -> None:
    from pipper.storage.botodata import data_loader

    data_loader(None, root / "botocore").load_service_model("s3", "service-2")
    assert list((root / "botocore").glob("*.marshal"))
    _new_cache(root).prune(everything=True)
    assert list((root / "botocore").iterdir()) == []


def test_a_run_right_after_another_touches_nothing_and_writes_no_seal_file(
    root: Path, bundle: Path
) -> None:
    digest, _ = _sealed_run(root, bundle)
    seals = root / seals_module.SEALS
    blob = _new_cache(root).blob_path(digest)
    before = (seals.stat().st_mtime_ns, blob.stat().st_mtime_ns)
    cache = _new_cache(root)
    assert cache.sealed_meta(digest) is not None
    cache.seals.flush()
    assert (seals.stat().st_mtime_ns, blob.stat().st_mtime_ns) == before
    # A seal set longer ago than FRESH_NS is renewed: the blob is touched, so prune sees the use.
    old = time.time_ns() - seals_module.FRESH_NS - 10**9
    os.utime(blob, ns=(old, old))
    doc = json.loads(seals.read_text())
    doc["seals"][digest][3] = old
    seals.write_text(json.dumps(doc))
    later = _new_cache(root)
    assert later.sealed_meta(digest) is not None  # still the file sealed: no rehash
    later.seals.flush()
    assert blob.stat().st_mtime_ns > before[1]
    assert _new_cache(root).sealed_meta(digest) is not None
