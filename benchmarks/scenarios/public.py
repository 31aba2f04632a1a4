"""``pipper install`` of a private graph whose root needs public wheels, beside the same private
graph alone: what resolving, caching and installing the public half costs.

The public wheels (20 in every preset) are served by pypiserver behind a proxy with the run's
latency, like the bucket; they require one another in a chain, so pip's resolution walks them.
A private root package requires the generated graph's root and every public wheel. Both runs go
into a fresh ``--target`` with empty caches; the public run adds one pip resolution and one
``pip download`` of the 20 wheels, then the same one installer call.
"""

from __future__ import annotations

from benchmarks import graph as G
from benchmarks.bench import Bench
from benchmarks.commands import ours_install
from benchmarks.report import Section
from benchmarks.samples import TIMING_HEADERS, Run, faster, series_of, timing_cells
from tests.lib.pypiservers import start_pypi_server
from tests.lib.wheels import make_bundle, make_wheel

PUBLIC_WHEELS = 20
ROWS = (
    ("private", "private graph only"),
    ("public", f"the same graph + {PUBLIC_WHEELS} public wheels"),
)


def run(bench: Bench) -> None:
    s = bench.s
    graph = G.generate(s.install_packages, s.install_depth, seed=s.seed, prefix="pub")
    published = bench.publish("bench-public", graph)
    public = [f"benchpub{i:02d}" for i in range(PUBLIC_WHEELS)]
    served = bench.fresh("pypi")
    for i, name in enumerate(public):
        make_wheel(served, name, "1.0.0", requires=public[i + 1 : i + 2])
    index = start_pypi_server(served)
    bench.on_stop(index.stop)
    proxy = bench.latency_proxy(index.url)
    root = make_bundle(
        bench.fresh("public-root"), "pubroot", "1.0.0", requires=[graph.root, *public]
    )
    G.publish(bench.client, published.bucket, [root])
    runs: dict[str, list[Run]] = {name: [] for name, _ in ROWS}
    for _ in range(s.repeat):
        runs["private"].append(ours_install(bench, published, "pip", label="public-private"))
        runs["public"].append(
            ours_install(
                bench,
                published,
                "pip",
                label="public-public",
                root="pubroot",
                extra=["--index-url", f"{proxy.url}/simple/"],
                expect=["pubroot", *public],
            )
        )
    series = series_of(runs)
    bench.results["public"] = {
        "packages": len(graph.packages),
        "public_wheels": PUBLIC_WHEELS,
        **{k: v.to_json() for k, v in series.items()},
    }
    section = Section(
        f"install with public requirements: {len(graph.packages)} private packages and "
        f"{PUBLIC_WHEELS} public wheels from pypiserver, {s.latency_ms:g} ms per request, into a "
        "fresh --target (empty cache)",
        ["run", *TIMING_HEADERS, "vs private only"],
    )
    for name, label in ROWS:
        section.add(label, *timing_cells(series[name]), faster(series["private"], series[name]))
    bench.sections.append(section)
