"""The commands the scenarios time, each checked after the run, as a user would check it.

A timing of a command that did not do its job is worthless, so every run here verifies its
result (every bundle written, every package installed) before its numbers count. Each command
gets fresh folders; what a warm run reuses (a cache) is passed in by the scenario.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks import procs
from benchmarks.bench import Bench, Unavailable
from benchmarks.samples import Published, Run

PIPPER_JSON_KEYS = (
    "requests",
    "listings",
    "retries",
    "bytes_fetched",
    "timings",
    "depth",
    "rounds",
)
"""What a run keeps of ``pipper download --json`` (pipper's own counters and clock)."""


def ours_download(
    bench: Bench,
    label: str,
    published: Published,
    cache: Path,
    *,
    offline: bool = False,
    concurrency: int | None = None,
    zero_latency: bool = False,
) -> Run:
    dest = bench.fresh("dest")
    args = ["download", published.graph.root, "-b", published.bucket, "-d", str(dest)]
    args += ["--cache-dir", str(cache), "--json"]
    if offline:
        args.append("--offline")
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    proxy = bench.proxy_zero if zero_latency else bench.proxy
    measured, counts = bench.timed(label, procs.pipper_cmd(*args), bench.ours_env_via(proxy), proxy)
    measured.check(f"pipper download ({label})", bench.log(label))
    data = json.loads(measured.stdout)
    expected = len(published.graph.packages)
    got = len(list(dest.glob("*.pipper")))
    if len(data["packages"]) != expected or got != expected:
        raise RuntimeError(
            f"pipper download ({label}) resolved {len(data['packages'])} packages and wrote "
            f"{got} bundles; the graph has {expected}"
        )
    shutil.rmtree(dest)
    return Run(
        measured.seconds,
        measured.cpu_seconds,
        measured.maxrss_kib,
        counts,
        {k: data.get(k) for k in PIPPER_JSON_KEYS},
    )


def original_download(bench: Bench, published: Published) -> Run:
    assert bench.original_script is not None
    dest = bench.fresh("original-dest")
    cmd = [str(bench.original_script), "download", *published.graph.names]
    cmd += ["-d", str(dest), "-b", published.bucket]
    measured, counts = bench.timed("original-download", cmd, bench.original_env)
    log = bench.log("original-download")
    measured.check("the original pipper download", log)
    got = len(list(dest.glob("*.pipper")))
    if got != len(published.graph.packages):
        raise RuntimeError(f"the original pipper wrote {got} bundles; see {log}")
    shutil.rmtree(dest)
    return Run(measured.seconds, measured.cpu_seconds, measured.maxrss_kib, counts)


def ours_install(bench: Bench, published: Published, installer: str) -> Run:
    target = bench.fresh("target")
    cache = bench.fresh("install-cache")
    env = {**bench.ours_env, "PIPPER_CACHE_DIR": str(cache)}
    args = ["install", published.graph.root, "-b", published.bucket, "--target", str(target)]
    args += ["--installer", installer]
    label = f"install-{installer}"
    measured, counts = bench.timed(label, procs.pipper_cmd(*args), env)
    if measured.returncode == 2 and "No such command" in measured.stderr:
        raise Unavailable("this checkout has no `pipper install` command yet")
    measured.check(f"pipper install --installer {installer}", bench.log(label))
    check_installed(bench, target, published, label)
    shutil.rmtree(target)
    shutil.rmtree(cache)
    return Run(measured.seconds, measured.cpu_seconds, measured.maxrss_kib, counts)


def original_install(bench: Bench, published: Published) -> Run:
    assert bench.original_script is not None
    target = bench.fresh("original-target")
    cmd = [str(bench.original_script), "install", published.graph.root]
    cmd += ["-b", published.bucket, "-t", str(target)]
    measured, counts = bench.timed("original-install", cmd, bench.original_env)
    measured.check("the original pipper install", bench.log("original-install"))
    check_installed(bench, target, published, "original-install")
    shutil.rmtree(target)
    return Run(measured.seconds, measured.cpu_seconds, measured.maxrss_kib, counts)


def check_installed(bench: Bench, target: Path, published: Published, label: str) -> None:
    found = {p.name.split("-")[0] for p in target.glob("*.dist-info")}
    missing = set(published.graph.names) - found
    if missing:
        raise RuntimeError(
            f"{label}: {len(missing)} of {len(published.graph.names)} packages missing from "
            f"the target (e.g. {sorted(missing)[0]}); see {bench.log(label)}"
        )
