"""``pipper install --installer uv`` of the main graph against what a team would do without
pipper: ``uv pip install`` from a static PEP 503 + PEP 658 index of the same wheels in the
same store (``benchmarks.simple_index``), cold and warm.

Both go through a proxy adding the same latency per request; uv's path also passes the
static-website front (``benchmarks.website``), one more loopback hop. Repetitions are
interleaved (pipper cold, uv cold, pipper warm, uv warm; again). Cold means empty caches, uv's
included (pipper's uv gets a ``UV_CACHE_DIR`` of its own too); warm reuses the cold run's.
"""

from __future__ import annotations

from benchmarks import simple_index
from benchmarks.bench import Bench
from benchmarks.commands import Caches, ours_install, uv_index_install
from benchmarks.report import Section, size
from benchmarks.samples import TIMING_HEADERS, Run, faster, series_of, timing_cells
from benchmarks.website import Website

BUCKET = "bench-index"
ROWS = (
    ("pipper_cold", "pipper install --installer uv, cold"),
    ("uv_cold", "uv pip install from the static index, cold"),
    ("pipper_warm", "pipper install --installer uv, warm"),
    ("uv_warm", "uv pip install from the static index, warm"),
)


def run(bench: Bench) -> None:
    s, main = bench.s, bench.main
    assert main is not None and bench.server is not None
    bench.client.create_bucket(Bucket=BUCKET)
    projects = simple_index.publish(bench.server, BUCKET, main.bundles)
    site = Website(bench.server, BUCKET).start()
    bench.on_stop(site.stop)
    index = bench.latency_proxy(site.url)
    runs: dict[str, list[Run]] = {name: [] for name, _ in ROWS}
    for _ in range(s.repeat):
        ours = Caches.fresh(bench, uv=True)
        theirs = bench.fresh("uv-cache")
        for state in ("cold", "warm"):
            runs[f"pipper_{state}"].append(
                ours_install(bench, main, "uv", caches=ours, label=f"index-pipper-{state}")
            )
            runs[f"uv_{state}"].append(
                uv_index_install(bench, main, index, theirs, f"index-uv-{state}")
            )
        ours.remove()
        Caches(theirs).remove()
    series = series_of(runs)
    bench.results["index"] = {
        "packages": len(main.graph.packages),
        "projects_in_index": projects,
        "bundle_bytes": main.bundle_bytes,
        **{k: v.to_json() for k, v in series.items()},
    }
    section = Section(
        f"install from a static index: {len(main.graph.packages)} packages, "
        f"{main.graph.levels} levels, {size(main.bundle_bytes)} into a fresh --target, "
        f"{s.latency_ms:g} ms per request",
        ["run", *TIMING_HEADERS, "vs uv"],
    )
    for name, label in ROWS:
        got = series.get(name)
        if got is not None:
            uv = series.get(name.replace("pipper", "uv"))
            section.add(label, *timing_cells(got), faster(uv, got))
    section.notes.append(
        "uv reads the index through a static-website front (a folder's index.html, as S3 "
        "website endpoints serve it); LIST/GET/HEAD counts its page, metadata and wheel GETs"
    )
    bench.sections.append(section)
