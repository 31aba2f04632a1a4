"""``pipper download`` of the main graph: cold, cold at 0 ms, warm, offline, and the original.

Repetitions are interleaved (original, cold, cold at 0 ms, warm, offline; again), so a burst of
load from elsewhere on the machine hits every kind of run alike. Each row is set beside the
physical bound of its kind of run and beside the original.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from benchmarks.bench import Bench
from benchmarks.bound import ROUND_TRIPS_PER_LEVEL
from benchmarks.commands import original_download, ours_download
from benchmarks.report import Section, ratio, seconds, size
from benchmarks.samples import TIMING_HEADERS, Run, Series, faster, series_of, timing_cells

ROWS = (
    ("original", "original 0.11.1 (every id)"),
    ("cold", "pipper cold (empty cache)"),
    ("cold_zero_latency", "pipper cold, proxy at 0 ms"),
    ("warm", "pipper warm (full cache)"),
    ("offline", "pipper --offline"),
)


def run(bench: Bench) -> None:
    s = bench.s
    main = bench.main
    assert main is not None
    runs: dict[str, list[Run]] = {name: [] for name, _ in ROWS}
    for i in range(s.repeat):
        if bench.original_script is not None and i < s.original_repeat:
            runs["original"].append(original_download(bench, main))
        cache = bench.fresh("cache")
        runs["cold"].append(ours_download(bench, "cold", main, cache))
        if i == 0:
            created = cache_entries(cache)
        zero = bench.fresh("cache")
        runs["cold_zero_latency"].append(
            ours_download(bench, "cold-0ms", main, zero, proxy=bench.proxy_zero)
        )
        shutil.rmtree(zero)
        runs["warm"].append(ours_download(bench, "warm", main, cache))
        runs["offline"].append(ours_download(bench, "offline", main, cache, offline=True))
        shutil.rmtree(cache)
    series = series_of(runs)
    bench.results["download"] = {k: v.to_json() for k, v in series.items()}
    bundles = len(main.graph.packages)
    bench.results["download"]["cold_files"] = {
        **created,
        "bundles": bundles,
        "beyond_one_per_bundle": created["files"] + created["folders"] - bundles,
    }
    bench.sections.append(_section(bench, series))


def cache_entries(cache: Path) -> dict[str, int]:
    """The files and folders a cold run left in its (empty before) cache: every file it made
    there, since temporary files are renamed into place or removed."""
    files = folders = 0
    for path in cache.rglob("*"):
        if path.is_dir():
            folders += 1
        else:
            files += 1
    return {"files": files, "folders": folders}


def _section(bench: Bench, series: dict[str, Series]) -> Section:
    s, bound = bench.s, bench.bound
    assert bench.main is not None
    main = bench.main
    levels = main.graph.levels
    startup = bench.results["startup"]
    warm_series = series.get("warm")
    # A warm run must still learn which versions exist: one LIST per level, or a single
    # LIST when one listing of the whole prefix answers every package.
    warm_trips = levels
    if warm_series is not None:
        warm_trips = min(levels, max(1, warm_series.runs[0].requests["list"]))
    bounds = {
        "cold": bound.cold(levels, main.bundle_bytes),
        "cold_zero_latency": bound.cold_zero_latency(main.bundle_bytes),
        "warm": bound.warm(warm_trips),
        "offline": bound.offline(),
    }
    found: dict[str, Any] = {
        "levels": levels,
        "round_trips_per_level": ROUND_TRIPS_PER_LEVEL,
        "latency_s": bound.latency_s,
        "bundle_bytes": main.bundle_bytes,
        "throughput_bytes_per_s": round(bound.bytes_per_s),
        "network_s": round(bound.network(levels), 4),
        "transfer_s": round(bound.transfer(main.bundle_bytes), 4),
        "interpreter_s": bound.interpreter_s,
        "pipper_startup_s": startup["pipper --version"],
        **{f"{k}_s": round(v, 4) for k, v in bounds.items()},
    }
    bench.results["bound"] = found

    original = series.get("original")
    section = Section(
        f"download: {len(main.graph.packages)} packages, {levels} levels, "
        f"{size(main.bundle_bytes)}, {s.latency_ms:g} ms per request",
        ["run", *TIMING_HEADERS, "bound", "x bound", "vs original"],
    )
    for name, label in ROWS:
        got = series.get(name)
        if got is None:
            continue
        b = bounds["cold" if name == "original" else name]
        section.add(
            label, *timing_cells(got), seconds(b), ratio(got.median / b), faster(original, got)
        )
    section.notes.append(
        f"bound = {levels} levels x {ROUND_TRIPS_PER_LEVEL} round trips x "
        f"{s.latency_ms:g} ms + {size(main.bundle_bytes)} at "
        f"{size(bound.bytes_per_s)}/s (one large GET through the proxy) + python start-up "
        f"{seconds(bound.interpreter_s)}; 0 ms: no latency term; warm: {warm_trips} LIST round "
        "trip(s); offline: start-up only"
    )
    cold = series.get("cold")
    if cold is not None and cold.runs[0].requests["list"] < levels:
        lists = cold.runs[0].requests["list"]
        tighter = bound.cold_with_lists(lists, levels, main.bundle_bytes)
        section.notes.append(
            f"this pipper made {lists} LIST(s) for the whole graph, so it needs only "
            f"{lists} + {levels} round trips: bound {seconds(tighter)}, cold at "
            f"{ratio(cold.median / tighter)} of it"
        )
        found["tighter_cold_s"] = round(tighter, 4)
    files = bench.results["download"].get("cold_files")
    if files:
        section.notes.append(
            f"the first cold run left {files['files']} files and {files['folders']} folders in "
            f"its cache for {files['bundles']} bundles: one blob per bundle, index and listing "
            "files, and shard folders (at most 256 per kind, made once per cache)"
        )
    if cold is not None:
        timings = cold.runs[0].pipper.get("timings") or {}
        section.notes.append(
            f"pipper's own clock (first cold run): resolve {seconds(timings.get('resolve'))}, "
            f"total {seconds(timings.get('total'))}; `pipper --version` starts in "
            f"{seconds(startup['pipper --version'])}"
        )
    return section
