"""The commands the scenarios time, each checked after the run, as a user would check it.

A timing of a command that did not do its job is worthless, so every run here verifies its
result (every bundle written, every package installed) before its numbers count. Each command
gets fresh folders; what a warm run reuses (a cache) is passed in by the scenario.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import procs
from benchmarks.bench import Bench, Unavailable
from benchmarks.samples import Published, Run
from benchmarks.simple_index import PAGES
from pipper.install import find_uv
from tests.lib.proxy import Proxy
from tests.lib.s3servers import S3Server


@dataclass(frozen=True)
class Caches:
    """What an install keeps between runs: pipper's cache and, when given, uv's."""

    pipper: Path
    uv: Path | None = None

    @classmethod
    def fresh(cls, bench: Bench, *, uv: bool = False) -> Caches:
        return cls(bench.fresh("install-cache"), bench.fresh("uv-cache") if uv else None)

    def remove(self) -> None:
        for path in (self.pipper, self.uv):
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)


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
    proxy: Proxy | None = None,
    server: S3Server | None = None,
) -> Run:
    """Through ``proxy`` to ``server`` (the run's latency proxy and server unless told)."""
    dest = bench.fresh("dest")
    args = ["download", published.graph.root, "-b", published.bucket, "-d", str(dest)]
    args += ["--cache-dir", str(cache), "--json"]
    if offline:
        args.append("--offline")
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    proxy = proxy or bench.proxy
    env = bench.ours_env_via(proxy, server)
    measured, counts = bench.timed(label, bench.pipper_cmd(*args), env, proxy)
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


def ours_install(
    bench: Bench,
    published: Published,
    installer: str,
    *,
    caches: Caches | None = None,
    label: str | None = None,
    root: str | None = None,
    extra: Sequence[str] = (),
    expect: Sequence[str] = (),
) -> Run:
    """Into a fresh ``--target``; with empty caches of its own unless ``caches`` are given
    (a warm run passes the cold run's). ``root`` replaces the graph's root, ``extra`` adds
    options and ``expect`` packages the target must hold besides the graph's."""
    target = bench.fresh("target")
    own = caches is None
    caches = caches or Caches.fresh(bench)
    env = {**bench.ours_env, "PIPPER_CACHE_DIR": str(caches.pipper)}
    if caches.uv is not None:
        env["UV_CACHE_DIR"] = str(caches.uv)
    args = ["install", root or published.graph.root, "-b", published.bucket]
    args += ["--target", str(target), "--installer", installer, *extra]
    label = label or f"install-{installer}"
    measured, counts = bench.timed(label, bench.pipper_cmd(*args), env)
    if measured.returncode == 2 and "No such command" in measured.stderr:
        raise Unavailable("this checkout has no `pipper install` command yet")
    measured.check(f"pipper install --installer {installer}", bench.log(label))
    check_installed(bench, target, published, label, expect)
    shutil.rmtree(target)
    if own:
        caches.remove()
    return Run(measured.seconds, measured.cpu_seconds, measured.maxrss_kib, counts)


def uv_index_install(
    bench: Bench, published: Published, index: Proxy, uv_cache: Path, label: str
) -> Run:
    """``uv pip install ROOT`` from the static index behind ``index`` (a latency proxy), into
    a fresh ``--target`` with the same interpreter pipper's uv runs gets."""
    target = bench.fresh("uv-target")
    env = {**procs.clean_env(bench.scratch / "home-uv"), "UV_CACHE_DIR": str(uv_cache)}
    cmd = [str(find_uv()), "pip", "install", "--python", str(bench.python)]
    cmd += ["--index-url", f"{index.url}/{PAGES}", "--target", str(target), published.graph.root]
    measured, counts = bench.timed(label, cmd, env, index)
    measured.check(f"uv pip install from the static index ({label})", bench.log(label))
    check_installed(bench, target, published, label)
    shutil.rmtree(target)
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


def check_installed(
    bench: Bench, target: Path, published: Published, label: str, expect: Sequence[str] = ()
) -> None:
    found = {p.name.split("-")[0] for p in target.glob("*.dist-info")}
    wanted = {*published.graph.names, *expect}
    missing = wanted - found
    if missing:
        raise RuntimeError(
            f"{label}: {len(missing)} of {len(wanted)} packages missing from "
            f"the target (e.g. {sorted(missing)[0]}); see {bench.log(label)}"
        )
