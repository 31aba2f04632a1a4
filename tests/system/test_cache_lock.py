"""``pipper cache prune`` beside running pipper processes: each waits for the other.

A prune holds the cache lock exclusively for the moments it deletes; a run holds it shared while
it uses entries. These tests run real processes against each other through that lock.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from tests.lib.cli import REPO_ROOT, cli, publish_graph
from tests.lib.files import cache_blobs, sha256_of
from tests.lib.isolation import PipperHome
from tests.lib.polling import wait_for
from tests.lib.proxy import MakeProxy


@pytest.fixture
def repo(s3_env: dict[str, str], bucket: str) -> list[str]:
    return ["-b", bucket]


def _spawn(args: list[str], stderr: int | IO[str] = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipper", *args],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def _is_locked(lock: Path) -> bool:
    """Whether some process holds the cache lock (probing takes it for an instant at most)."""
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _wait_until_locked(lock: Path, proc: subprocess.Popen[str]) -> None:
    def locked() -> bool:
        assert proc.poll() is None, proc.communicate()
        return _is_locked(lock)

    wait_for(locked, what="the download to take the cache lock")


def test_prune_during_a_concurrent_download_does_not_break_it(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    chain = {f"c{i}": {"1.0.0": [f"c{i + 1}"] if i < 4 else []} for i in range(5)}
    published = publish_graph(tmp_path, ["-b", bucket], chain, sizes={"c2": 500_000})
    slow = make_proxy(latency_ms=150)
    cache, out = tmp_path / "cache", tmp_path / "out"
    # Part of the graph is in the cache already: the download uses those entries mid-run.
    repo = ["--cache-dir", str(cache), "-b", bucket, "--endpoint-url", slow.url]
    assert cli("cache", "warm", "c3", *repo).exit_code == 0
    proc = _spawn(["download", "c0", "-d", str(out), "--concurrency", "1", *repo])
    _wait_until_locked(cache / "lock", proc)
    prune = cli("cache", "prune", "--all", "--cache-dir", str(cache))
    exported_before_prune_ran = sorted(p.name for p in out.glob("*.pipper"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "(2 from cache, 3 fetched" in err
    assert prune.exit_code == 0, prune.stderr
    assert "waiting for 1 other pipper process using the cache" in prune.stderr
    names = [f"c{i}-v1-0-0.pipper" for i in range(5)]
    assert exported_before_prune_ran == names
    for name in names:
        assert sha256_of(out / name) == sha256_of(published / name)
    assert cache_blobs(cache) == []


def test_a_session_waits_for_a_running_prune(
    tmp_path: Path, repo: list[str], pipper_home: PipperHome
) -> None:
    from pipper.cache import Cache

    publish_graph(tmp_path, repo, {"solo": {"1.0.0": []}})
    cache = Cache(pipper_home.cache_dir)
    hold = cache.try_hold(exclusive=True)
    assert hold is not None and hold.held
    log = tmp_path / "download.err"
    with log.open("w") as stderr:
        proc = _spawn(["download", "solo", "-d", str(tmp_path / "v"), *repo], stderr=stderr)
    waiting = "waiting for 'pipper cache prune' to finish"
    wait_for(
        lambda: proc.poll() is not None or waiting in log.read_text(),
        what="the download to find the cache locked",
    )
    assert proc.poll() is None, log.read_text()
    assert not (tmp_path / "v").exists()
    hold.release()
    proc.communicate(timeout=60)
    err = log.read_text()
    assert proc.returncode == 0, err
    assert waiting in err
    assert (tmp_path / "v" / "solo-v1-0-0.pipper").is_file()
