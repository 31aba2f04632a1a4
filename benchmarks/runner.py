"""The benchmark runner: ``python -m benchmarks [--quick | --smoke] [options]``, run from the
repository root (it imports the test harness in ``tests/``).

One process does everything: it starts an S3 server on loopback (SeaweedFS, or moto where
SeaweedFS cannot start) behind ``tests.lib.proxy.Proxy`` with a fixed latency per request,
publishes synthetic graphs, installs the original pipper 0.11.1 into its own venv, and times
both tools as fresh processes on the same buckets. Every timing is the median of several
interleaved runs and is reported as a ratio: to the original, and to the physical bound of the
run (``benchmarks.bound``). The targets (``benchmarks.targets``) are judged at the end.

Where things are: ``settings`` (presets, command line), ``bench`` (server, proxies, timing),
``commands`` (each tool's command, checked), ``scenarios/`` (one module each), ``targets``,
``output`` (JSON, text, markdown), ``compare`` (``--compare``: new / old per row), ``report``
(table rendering, machine description).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import chart, compare, output, targets
from benchmarks import graph as G
from benchmarks.bench import Bench
from benchmarks.original import ensure_venv
from benchmarks.report import text_table
from benchmarks.scenarios import SCENARIOS, SETUP
from benchmarks.settings import Settings, parse_args

NEEDS_ORIGINAL = {"download", "install"}


def run(bench: Bench) -> None:
    s = bench.s
    s.work.mkdir(parents=True, exist_ok=True)
    (s.work / ".gitignore").write_text("*\n")
    bench.logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    bench.results["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    steal_before = cpu_ticks()
    try:
        bench.step("server", bench.start_server)
        if bench.server is None:
            return
        for name, scenario in SETUP.items():
            bench.step(name, functools.partial(scenario, bench))
        bench.step("publish", lambda: publish_main(bench))
        if s.original and NEEDS_ORIGINAL & s.scenarios:
            bench.step("original venv", lambda: original_venv(bench))
        for name, scenario in SCENARIOS.items():
            if name in s.scenarios:
                bench.step(name, functools.partial(scenario, bench))
    finally:
        bench.stop()
        shutil.rmtree(bench.scratch, ignore_errors=True)
    bench.results["elapsed_s"] = round(time.perf_counter() - started, 1)
    bench.results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    steal = steal_share(steal_before, cpu_ticks())
    if steal is not None:
        bench.results["cpu_steal"] = steal
    verdicts = targets.judge(bench.results)
    bench.results["targets"] = verdicts
    bench.sections.append(targets.section(verdicts))


def cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) CPU ticks of this machine so far, from Linux's ``/proc/stat``; None
    elsewhere. Steal is time the hypervisor gave to other machines while this one had work:
    on a shared host it slows every CPU-bound row, which the load average does not show."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if fields[0] != "cpu" or len(fields) < 9:
        return None
    ticks = [int(x) for x in fields[1:]]
    return ticks[7], sum(ticks[:8])


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of the machine's CPU time stolen between two ``cpu_ticks`` readings."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 4)


def publish_main(bench: Bench) -> None:
    s = bench.s
    graph = G.generate(s.packages, s.depth, seed=s.seed)
    # Its wheels declare their dependencies, so uv can also install it from an index.
    main = bench.main = bench.publish("bench-main", graph, declare_requires=True)
    big = sum(1 for p in graph.packages if p.payload_size >= G.BIG[0])
    bench.results["graph"] = {
        "packages": len(graph.packages),
        "levels": graph.levels,
        "big_bundles": big,
        "bundle_bytes": main.bundle_bytes,
        "edges": sum(len(p.dependencies) for p in graph.packages),
        "older_versions": sum(1 for p in graph.packages if p.old_version),
    }


def original_venv(bench: Bench) -> None:
    bench.original_script = ensure_venv(bench.s.work)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    settings: Settings = parse_args(args)
    if settings.chart is not None:
        drawn = chart.write(chart.load(settings.chart), *chart.chart_paths(settings.chart))
        print(drawn if isinstance(drawn, str) else "chart: " + ", ".join(map(str, drawn)))
        return 0 if not isinstance(drawn, str) else 1
    # Read the earlier run first: a typo should not cost a whole run before it shows.
    earlier = [compare.load(path) for path in settings.compare]
    if len(earlier) == 2:
        print(text_table(compare.section(earlier[0], earlier[1], str(settings.compare[0]))))
        return 0
    bench = Bench(settings, args)
    run(bench)
    if earlier:
        now = output.document(bench)
        bench.sections.append(compare.section(earlier[0], now, str(settings.compare[0])))
    text = output.write(bench)
    drawn = chart.write(chart.load(settings.json_out), *chart.chart_paths(settings.json_out))
    print()
    print(text)
    print(f"\nJSON: {settings.json_out}\nmarkdown: {settings.md_out}")
    print(drawn if isinstance(drawn, str) else "chart: " + ", ".join(map(str, drawn)))
    return 1 if bench.errors else 0
