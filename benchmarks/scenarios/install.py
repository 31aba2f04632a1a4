"""``pipper install`` (with pip, with uv) of a small graph into a fresh ``--target``, against
the original 0.11.1, which runs one pip per package. Interleaved repetitions, empty caches.

The graph is small (30 packages in the full run) because the original takes about a second
per package; the comparison with uv's own index install is the ``index`` scenario.
"""

from __future__ import annotations

from benchmarks import graph as G
from benchmarks.bench import Bench
from benchmarks.commands import original_install, ours_install
from benchmarks.report import Section, size
from benchmarks.samples import TIMING_HEADERS, Run, faster, series_of, timing_cells

ROWS = (
    ("original", "original 0.11.1 (pip per package)"),
    ("pip", "pipper --installer pip"),
    ("uv", "pipper --installer uv"),
)


def run(bench: Bench) -> None:
    s = bench.s
    graph = G.generate(s.install_packages, s.install_depth, seed=s.seed, prefix="inst")
    published = bench.publish("bench-install", graph)
    runs: dict[str, list[Run]] = {name: [] for name, _ in ROWS}
    for i in range(s.repeat):
        if bench.original_script is not None and i < s.original_repeat:
            runs["original"].append(original_install(bench, published))
        for installer in ("pip", "uv"):
            runs[installer].append(ours_install(bench, published, installer))
    series = series_of(runs)
    bench.results["install"] = {
        "packages": len(graph.packages),
        "levels": graph.levels,
        "bundle_bytes": published.bundle_bytes,
        **{k: v.to_json() for k, v in series.items()},
    }
    section = Section(
        f"install: {len(graph.packages)} packages, {graph.levels} levels, "
        f"{size(published.bundle_bytes)} into a fresh --target (empty cache)",
        ["run", *TIMING_HEADERS, "vs original"],
    )
    original = series.get("original")
    for name, label in ROWS:
        got = series.get(name)
        if got is None:
            continue
        section.add(label, *timing_cells(got), faster(original, got))
    bench.sections.append(section)
