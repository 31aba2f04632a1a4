"""Faults on the wire, through the fault proxy in front of the real S3 server, and publish races.

Killed processes, processes sharing a cache and a single resumed body are covered in
``test_processes.py`` and ``test_download.py``; this module covers a whole graph under a storm of
every fault kind at once, faults that never stop, the read-timeout knob, and two publishers of
one version.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.lib.cli import REPO_ROOT, cli, pipper, publish_graph
from tests.lib.proxy import Faults, MakeProxy
from tests.lib.s3servers import S3Server
from tests.lib.wheels import make_bundle

BODY_FAULTS = ("reset", "truncate", "stall")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _graph_of_100() -> tuple[dict[str, dict[str, list[str]]], dict[str, int]]:
    """A root, 9 branches of 10 leaves (two levels of fan-out), and ten bundles over 1 MB.

    Shallow on purpose: every level waits for its slowest listing, and the storm is about
    surviving faults, not about depth (``test_download`` covers deep graphs).
    """
    graph: dict[str, dict[str, list[str]]] = {
        "n000": {"1.0.0": [f"n{k:03d}" for k in range(1, 10)]}
    }
    for k in range(1, 10):
        graph[f"n{k:03d}"] = {"1.0.0": [f"n{10 * k + j:03d}" for j in range(10)]}
    for i in range(10, 100):
        graph[f"n{i:03d}"] = {"1.0.0": []}
    sizes = {f"n{i:03d}": 1_200_000 if i % 10 == 5 else 20_000 for i in range(100)}
    return graph, sizes


def _assert_cache_clean(cache: Path) -> int:
    """Every blob hashes to its name and no download is left half-way; returns the blob count."""
    blobs = [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    for blob in blobs:
        assert _sha256(blob) == blob.name, blob
    leftovers = list((cache / "tmp").glob("*")) if (cache / "tmp").exists() else []
    assert leftovers == [], leftovers
    return len(blobs)


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.slow
@pytest.mark.timing
def test_a_100_package_graph_survives_a_storm_of_every_fault(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    graph, sizes = _graph_of_100()
    published = publish_graph(tmp_path, ["-b", bucket], graph, sizes=sizes)
    proxy = make_proxy(
        faults=Faults(
            slowdown_rate=0.2,
            reset_rate=0.05,
            truncate_rate=0.05,
            stall_rate=0.03,
            stall_seconds=30,
            seed=6,
        )
    )
    out, cache = tmp_path / "vendor", tmp_path / "cache"
    started = time.monotonic()
    proc = pipper(
        "download", "n000", "-b", bucket, "--endpoint-url", proxy.url,
        "-d", str(out), "--cache-dir", str(cache), "--json",
        env={"PIPPER_READ_TIMEOUT": "2"},
        timeout=150,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr

    data = json.loads(proc.stdout)
    packages = data["packages"]
    assert len(packages) == 100
    for package in packages:
        expected = _sha256(published / package["file"])
        assert package["sha256"] == expected
        assert _sha256(out / package["file"]) == expected
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in published.iterdir())
    assert _assert_cache_clean(cache) == 100

    kinds = Counter(r.fault for r in proxy.requests if r.fault)
    assert set(kinds) == {"slowdown", *BODY_FAULTS}, kinds
    broken_bodies = sum(1 for r in proxy.requests if r.kind == "get" and r.fault in BODY_FAULTS)
    # Each broken body is resumed once, and nothing is retried that no fault caused.
    assert broken_bodies <= data["retries"] <= proxy.faults_injected
    # A stall costs the 2 s read timeout, not the proxy's 30 s.
    assert elapsed < 90


def test_json_retries_count_every_retried_request(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    publish_graph(tmp_path, ["-b", bucket], {"a": {"1.0.0": ["b"]}, "b": {"1.0.0": []}})
    # The first three requests (the listing of a, three times) are throttled, then none.
    proxy = make_proxy(faults=Faults(slowdown_rate=1.0, max_faults=3))
    result = cli(
        "download", "a", "-b", bucket, "--endpoint-url", proxy.url,
        "-d", str(tmp_path / "v"), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert proxy.faults_injected == 3
    assert result.json()["retries"] == 3


NEVER_STOPPING = {
    "every-request-throttled": (Faults(slowdown_rate=1.0), "kept failing (SlowDown)"),
    "every-body-cut": (Faults(reset_rate=0.5, truncate_rate=0.5), "failed during listing"),
    "every-body-stalled": (
        Faults(stall_rate=1.0, stall_seconds=60, only={"get"}),
        "after 6 broken transfers",
    ),
}


@pytest.mark.slow
@pytest.mark.timing
@pytest.mark.parametrize("case", list(NEVER_STOPPING))
def test_faults_that_never_stop_end_in_one_clear_line(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy, case: str
) -> None:
    faults, expected = NEVER_STOPPING[case]
    publish_graph(
        tmp_path,
        ["-b", bucket],
        {"a": {"1.0.0": ["b"]}, "b": {"1.0.0": []}},
        sizes={"a": 200_000},
    )
    proxy = make_proxy(faults=faults)
    out, cache = tmp_path / "vendor", tmp_path / "cache"
    started = time.monotonic()
    proc = pipper(
        "download", "a", "-b", bucket, "--endpoint-url", proxy.url,
        "-d", str(out), "--cache-dir", str(cache),
        env={"PIPPER_READ_TIMEOUT": "1"},
        timeout=90,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert proc.returncode == 6, proc.stderr
    line = _one_error_line(proc.stderr)
    assert expected in line
    assert proxy.faults_injected >= 6
    assert elapsed < 45
    assert not out.exists() or not any(out.iterdir())
    if cache.exists():
        assert _assert_cache_clean(cache) == 0


@pytest.mark.timing
def test_read_timeout_knob_turns_a_stall_into_a_quick_retry(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    published = publish_graph(tmp_path, ["-b", bucket], {"a": {"1.0.0": []}}, sizes={"a": 500_000})
    # One body stalls for 30 s; without the knob (60 s read timeout) the run would wait it out.
    proxy = make_proxy(faults=Faults(stall_rate=1.0, stall_seconds=30, only={"get"}, max_faults=1))
    started = time.monotonic()
    result = cli(
        "download", "a", "-b", bucket, "--endpoint-url", proxy.url,
        "-d", str(tmp_path / "v"), "--json",
        env={"PIPPER_READ_TIMEOUT": "1"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started < 15
    assert proxy.faults_injected == 1
    assert result.json()["retries"] == 1
    name = "a-v1-0-0.pipper"
    assert _sha256(tmp_path / "v" / name) == _sha256(published / name)


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "1e9"])
def test_a_bad_read_timeout_is_a_usage_error(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], value: str
) -> None:
    result = cli(
        "download", "a", "-b", bucket, "-d", str(tmp_path / "v"),
        env={"PIPPER_READ_TIMEOUT": value},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "PIPPER_READ_TIMEOUT" in _one_error_line(result.stderr)


def test_publish_rides_out_a_throttled_store(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    s3_server: S3Server,
    make_proxy: MakeProxy,
) -> None:
    # Four refusals: a whole round of botocore attempts, then one more; the second round must
    # send the whole file again.
    proxy = make_proxy(faults=Faults(slowdown_rate=1.0, only={"put"}, max_faults=4))
    bundle = make_bundle(tmp_path, "throttled", "1.0.0", payload_size=300_000)
    result = cli("publish", str(bundle), "-b", bucket, "--endpoint-url", proxy.url)
    assert result.exit_code == 0, result.stderr
    assert proxy.faults_injected == 4
    bundle_puts = [r for r in proxy.requests if r.kind == "put" and r.path.endswith(".pipper")]
    assert len(bundle_puts) == 5  # (then the simple index's own writes, unthrottled)
    obj = s3_server.client().get_object(Bucket=bucket, Key="pipper/throttled/v1-0-0.pipper")
    body = obj["Body"].read()
    assert body == bundle.read_bytes()
    assert obj["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()


def _spawn_publish(bundle: Path, bucket: str, endpoint: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "pipper", "publish", str(bundle), "-b", bucket,
         "--endpoint-url", endpoint],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_two_publishers_of_one_version_exactly_one_wins(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    s3_server: S3Server,
    make_proxy: MakeProxy,
) -> None:
    # Latency widens the window between the "is it there?" listing and the write, so the
    # store's conditional write (If-None-Match: *) is what has to decide.
    slow = make_proxy(latency_ms=150)
    versions = ("1.0.0", "2.0.0", "3.0.0")
    races = []
    for version in versions:
        pair = [
            make_bundle(tmp_path / side, "racer", version, extra_meta={"built_by": side})
            for side in ("left", "right")
        ]
        assert _sha256(pair[0]) != _sha256(pair[1])
        races.append((version, pair, [_spawn_publish(b, bucket, slow.url) for b in pair]))

    client = s3_server.client()
    for version, pair, procs in races:
        errors = [proc.communicate(timeout=120)[1] for proc in procs]
        outcomes = [(proc.returncode, err) for proc, err in zip(procs, errors, strict=True)]
        codes = sorted(code for code, _ in outcomes)
        assert codes == [0, 8], outcomes
        loser = next(err for code, err in outcomes if code == 8)
        assert "already published" in _one_error_line(loser)
        winner = next(b for b, (code, _) in zip(pair, outcomes, strict=True) if code == 0)

        key = f"pipper/racer/v{version.replace('.', '-')}.pipper"
        obj = client.get_object(Bucket=bucket, Key=key)
        body = obj["Body"].read()
        assert obj["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
        assert body == winner.read_bytes()
