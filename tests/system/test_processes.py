"""Several pipper processes at once, and processes killed mid-download."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lib.cli import REPO_ROOT, publish_graph
from tests.lib.files import cache_blobs
from tests.lib.polling import wait_for
from tests.lib.proxy import Faults, MakeProxy


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "pipper", *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _assert_cache_clean(cache: Path) -> int:
    """Every blob under a final name hashes to its name; returns how many there are."""
    blobs = [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    for blob in blobs:
        assert not blob.name.startswith(".tmp-"), blob
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, blob
    return len(blobs)


def _assert_output_clean(out: Path, published: Path) -> None:
    """Files under final names in the output folder are whole, published bundles."""
    if not out.exists():
        return
    for path in out.iterdir():
        if path.name.startswith(".tmp-"):
            continue
        assert path.read_bytes() == (published / path.name).read_bytes(), path


def test_two_processes_share_one_cache(tmp_path: Path, bucket: str, s3_env: dict[str, str]) -> None:
    graph = {f"p{i}": {"1.0.0": [f"p{i + 1}"] if i < 11 else []} for i in range(12)}
    published = publish_graph(tmp_path, ["-b", bucket], graph, sizes={"p5": 2_000_000})
    cache = tmp_path / "shared-cache"
    procs = [
        _spawn(
            [
                "download",
                root,
                "-b",
                bucket,
                "--cache-dir",
                str(cache),
                "-d",
                str(tmp_path / f"o{n}"),
            ],
            {},
        )
        for n, root in enumerate(["p0", "p3", "p6", "p0"])
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert _assert_cache_clean(cache) == 12
    for n in range(4):
        _assert_output_clean(tmp_path / f"o{n}", published)
    assert len(list((tmp_path / "o0").glob("*.pipper"))) == 12


def _writing_a_body(cache: Path) -> bool:
    """Whether a download has written part of a body to its temporary file."""
    for part in (cache / "tmp").glob("*.part"):
        with contextlib.suppress(FileNotFoundError):  # finished (and renamed) meanwhile
            if part.stat().st_size > 0:
                return True
    return False


def _wait_for_partial(cache: Path) -> None:
    wait_for(lambda: _writing_a_body(cache), what="the download to start writing a body")


def _wait_for_blobs(proc: subprocess.Popen[str], cache: Path, count: int) -> None:
    """Until the cache holds ``count`` bundles, or the run ended."""
    wait_for(
        lambda: proc.poll() is not None or len(cache_blobs(cache)) >= count,
        timeout=120,
        what=f"{count} bundles in the cache",
    )


def test_download_killed_mid_body_leaves_cache_and_output_clean(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    published = publish_graph(
        tmp_path,
        ["-b", bucket],
        {"big": {"1.0.0": ["small"]}, "small": {"1.0.0": []}},
        sizes={"big": 6_000_000},
    )
    stall = make_proxy(faults=Faults(stall_rate=1.0, stall_seconds=30, only={"get"}))
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["download", "big", "-b", bucket, "--cache-dir", str(cache), "-d", str(out)]
    proc = _spawn([*args, "--endpoint-url", stall.url], {})
    try:
        _wait_for_partial(cache)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert _assert_cache_clean(cache) == 0
    _assert_output_clean(out, published)

    rerun = _spawn(args, {})
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert _assert_cache_clean(cache) == 2
    _assert_output_clean(out, published)
    assert sorted(p.name for p in out.glob("*.pipper")) == [
        "big-v1-0-0.pipper",
        "small-v1-0-0.pipper",
    ]


@pytest.mark.slow
def test_repeated_kills_at_random_moments_then_a_clean_rerun(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    import random

    graph = {f"k{i}": {"1.0.0": [f"k{j}" for j in range(i + 1, min(i + 4, 30))]} for i in range(30)}
    sizes = {f"k{i}": (3_000_000 if i % 7 == 0 else 50_000) for i in range(30)}
    published = publish_graph(tmp_path, ["-b", bucket], graph, sizes=sizes)
    slow = make_proxy(latency_ms=15)
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["download", "k0", "-b", bucket, "--cache-dir", str(cache), "-d", str(out)]
    rng = random.Random(1234)
    for _ in range(6):
        # Killed at a random point of progress rather than after a random time, so that every
        # kill lands mid-run however fast the machine is: once a few more bundles are in the
        # cache, with others half way through their bodies.
        target = len(cache_blobs(cache)) + rng.randint(1, 4)
        proc = _spawn([*args, "--endpoint-url", slow.url, "--concurrency", "4"], {})
        _wait_for_blobs(proc, cache, target)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        _assert_cache_clean(cache)
        _assert_output_clean(out, published)
    rerun = _spawn(args, {})
    _, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    assert _assert_cache_clean(cache) == 30
    _assert_output_clean(out, published)
    assert len(list(out.glob("*.pipper"))) == 30
