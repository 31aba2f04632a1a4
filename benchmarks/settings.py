"""What one benchmark run measures: the presets (smoke, quick, full) and the command line.

A preset is data: graph sizes, repetitions and the sizes of the side scenarios. The command
line picks one and may override the main graph and the repetitions; everything else a run
needs is derived here once, so no scenario reads ``argparse`` or re-derives a size.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

SCENARIOS = (
    "download",
    "probe",
    "install",
    "public",
    "index",
    "memory",
    "scaling",
    "crowded",
)
"""Every scenario ``--only`` can name, in the order a run does them."""


@dataclass(frozen=True)
class Preset:
    packages: int
    depth: int
    repeat: int
    original_repeat: int
    install_packages: int
    install_depth: int
    scale_counts: tuple[int, ...]
    concurrencies: tuple[int, ...]
    startup_repeat: int
    throughput_mib: int
    crowd_packages: int
    crowd_versions: int
    """The crowded bucket: other packages, and versions of each, beside the main graph."""
    original: bool
    """Whether the original pipper 0.11.1 runs at all (it is installed from PyPI first)."""
    skipped: tuple[str, ...]
    """Scenarios left out unless ``--only`` names them (the 1 GiB memory run)."""


PRESETS = {
    "smoke": Preset(
        packages=12,
        depth=3,
        repeat=1,
        original_repeat=1,
        install_packages=5,
        install_depth=3,
        scale_counts=(6, 12),
        concurrencies=(1, 8),
        startup_repeat=3,
        throughput_mib=8,
        crowd_packages=20,
        crowd_versions=3,
        original=False,
        skipped=("memory",),
    ),
    "quick": Preset(
        packages=200,
        depth=6,
        repeat=3,
        original_repeat=1,
        install_packages=30,
        install_depth=4,
        scale_counts=(50, 200),
        concurrencies=(1, 8, 32, 128),
        startup_repeat=10,
        throughput_mib=64,
        crowd_packages=200,
        crowd_versions=10,
        original=True,
        skipped=("memory",),
    ),
    "full": Preset(
        packages=200,
        depth=6,
        repeat=5,
        original_repeat=3,
        install_packages=30,
        install_depth=4,
        scale_counts=(50, 200, 800, 2000),
        concurrencies=(1, 8, 32, 128),
        startup_repeat=10,
        throughput_mib=64,
        crowd_packages=2000,
        crowd_versions=50,
        original=True,
        skipped=(),
    ),
}


@dataclass
class Settings:
    mode: str
    packages: int
    depth: int
    latency_ms: float
    repeat: int
    original_repeat: int
    scale_repeat: int
    install_packages: int
    install_depth: int
    scale_counts: list[int]
    concurrencies: list[int]
    scenarios: set[str]
    original: bool
    startup_repeat: int
    throughput_bytes: int
    big_bundle_bytes: int
    crowd_packages: int
    crowd_versions: int
    server: str | None
    seed: int
    json_out: Path
    md_out: Path
    work: Path
    compare: list[Path]
    chart: Path | None = None


def parse_args(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark pipper against the original pipper 0.11.1, uv from a static index "
        "and the physical bound. "
        "Run it from the repository root (it imports the test harness in tests/).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a small run (about 3-5 minutes)")
    mode.add_argument(
        "--smoke", action="store_true", help="a tiny run for the test suite: no original, no 1 GiB"
    )
    parser.add_argument("--latency-ms", type=float, default=20.0, help="delay per request (20)")
    parser.add_argument("--packages", type=int, help="packages in the main graph (200)")
    parser.add_argument("--depth", type=int, help="levels of the main graph (6)")
    parser.add_argument("--repeat", type=int, help="runs per measurement of pipper (5)")
    parser.add_argument(
        "--json-out",
        type=Path,
        help="where the JSON goes, a .md beside it (benchmarks/results/latest.json)",
    )
    parser.add_argument("--skip-original", action="store_true", help="do not run the original")
    parser.add_argument("--server", choices=("seaweedfs", "moto"), help="S3 server (seaweedfs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic graphs (0)")
    parser.add_argument(
        "--only",
        help=f"comma-separated scenarios to run, of {','.join(SCENARIOS)} (default: all; "
        "the 1 GiB memory run is skipped by --quick and --smoke unless named here)",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=BENCH_DIR / ".work", help="cache folder (.work)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="an earlier run's JSON: after this run, print new/old for every row; with a second "
        "JSON, compare those two saved runs (the earlier first) and run nothing",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        metavar="JSON",
        help="draw the chart (PNG and SVG, beside the JSON) of a saved run and run nothing; "
        "every run draws its own beside --json-out (needs matplotlib: pip install -e '.[bench]')",
    )
    args = parser.parse_args(list(argv))
    if args.compare and len(args.compare) > 2:
        parser.error("--compare takes one earlier JSON, or an earlier and a later one")

    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    preset = PRESETS[name]
    packages = args.packages or preset.packages
    depth = args.depth or preset.depth
    repeat = args.repeat or preset.repeat
    if packages < depth or depth < 1 or repeat < 1:
        parser.error("need --depth >= 1, --packages >= --depth and --repeat >= 1")
    json_out = args.json_out or BENCH_DIR / "results" / "latest.json"
    if args.only:
        scenarios = {x.strip() for x in args.only.split(",") if x.strip()}
        unknown = scenarios - set(SCENARIOS)
        if unknown:
            parser.error(f"unknown scenarios in --only: {', '.join(sorted(unknown))}")
    else:
        scenarios = set(SCENARIOS) - set(preset.skipped)
    return Settings(
        mode=name,
        packages=packages,
        depth=depth,
        latency_ms=args.latency_ms,
        repeat=repeat,
        original_repeat=min(repeat, preset.original_repeat),
        scale_repeat=min(repeat, 3),
        install_packages=preset.install_packages,
        install_depth=min(depth, preset.install_depth),
        scale_counts=sorted({*preset.scale_counts, packages}),
        concurrencies=list(preset.concurrencies),
        scenarios=scenarios,
        original=preset.original and not args.skip_original,
        startup_repeat=preset.startup_repeat,
        throughput_bytes=preset.throughput_mib * 1024 * 1024,
        big_bundle_bytes=1024**3,
        crowd_packages=preset.crowd_packages,
        crowd_versions=preset.crowd_versions,
        server=args.server,
        seed=args.seed,
        json_out=json_out,
        md_out=json_out.with_suffix(".md"),
        work=args.work_dir,
        compare=list(args.compare or []),
        chart=args.chart,
    )
