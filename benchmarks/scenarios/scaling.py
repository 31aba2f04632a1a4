"""How a cold download grows: graphs of several sizes, and the main graph at several
``--concurrency`` settings, each against its physical bound.

A least-squares line through (packages, seconds) splits the time into a fixed part and a part
per package; a bucket-size or bookkeeping cost that grows faster than linearly shows up as a
per-package time that rises with the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks import graph as G
from benchmarks.bench import Bench
from benchmarks.commands import ours_download
from benchmarks.report import Section, ratio, seconds, size
from benchmarks.samples import Published, Series


def run(bench: Bench) -> None:
    s, bound = bench.s, bench.bound
    main = bench.main
    assert main is not None
    section = Section(
        f"scaling: cold download, {s.depth} levels, median of {s.scale_repeat}",
        ["run", "packages", "bytes", "median", "CPU", "x bound", "per package"],
    )

    def measure(label: str, pub: Published, concurrency: int | None = None) -> dict[str, Any]:
        series = Series(
            [
                ours_download(bench, label, pub, bench.fresh("cache"), concurrency=concurrency)
                for _ in range(s.scale_repeat)
            ]
        )
        b = bound.cold(pub.graph.levels, pub.bundle_bytes)
        count = len(pub.graph.packages)
        section.add(
            f"--concurrency {concurrency}" if concurrency else "--concurrency 32 (default)",
            count,
            size(pub.bundle_bytes),
            seconds(series.median),
            seconds(series.cpu_median),
            ratio(series.median / b),
            seconds(series.median / count),
        )
        return {"bound_s": round(b, 4), **series.to_json()}

    by_count: list[dict[str, Any]] = []
    for count in s.scale_counts:
        if count == s.packages:
            pub = main
        else:
            graph = G.generate(count, s.depth, seed=s.seed)
            pub = bench.publish(f"bench-scale-{count}", graph, declare_requires=True)
        row = measure(f"scale-{count}", pub)
        by_count.append({"packages": count, "bundle_bytes": pub.bundle_bytes, **row})
    if len(by_count) >= 2:
        counts = [float(row["packages"]) for row in by_count]
        wall = fit(counts, [row["median_s"] for row in by_count])
        cpu = fit(counts, [row["cpu_median_s"] for row in by_count])
        bench.results["scaling_fit"] = {
            "fixed_s": round(wall[0], 4),
            "per_package_s": round(wall[1], 6),
            "cpu_fixed_s": round(cpu[0], 4),
            "cpu_per_package_s": round(cpu[1], 6),
        }
        section.notes.append(
            f"least-squares fit over the package counts: time = {seconds(wall[0])} + "
            f"{wall[1] * 1000:.1f} ms x packages; CPU = {seconds(cpu[0])} + "
            f"{cpu[1] * 1000:.1f} ms x packages"
        )
    by_concurrency = [
        {"concurrency": c, **measure(f"concurrency-{c}", main, concurrency=c)}
        for c in s.concurrencies
    ]
    bench.results["scaling"] = {"packages": by_count, "concurrency": by_concurrency}
    bench.sections.append(section)


def fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Intercept and slope of the least-squares line through the points."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return my - slope * mx, slope
