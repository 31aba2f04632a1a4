"""The headline comparisons as a chart, PNG and SVG, drawn from a run's JSON alone.

Three panels of median wall times, one bar per kind of run: the download of the main graph (the
original 0.11.1, pipper cold, warm and ``--offline``), the install of the main graph against
``uv pip install`` from a static index (cold and warm), and the small install against the
original (``--installer pip`` and ``uv``). Each bar says its time and its ratio to the run it is
compared with; the machine, the date and the command are written under the panels, so a chart
copied into a README still says where it came from.

matplotlib is an extra of the benchmarks (``pip install -e '.[bench]'``), never a dependency of
pipper: it is imported here, inside ``write``, and a run without it writes no chart and says so.
``python -m benchmarks --chart RUN.json`` draws the chart of a saved run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import describe_machine, ratio, seconds, size

__all__ = ["chart_paths", "load", "write"]


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    against: str | None = None
    """The bar of the same panel this one is compared with (its ratio is printed)."""


PANELS: tuple[tuple[str, tuple[Bar, ...]], ...] = (
    (
        "download",
        (
            Bar("original", "original 0.11.1"),
            Bar("cold", "pipper cold", "original"),
            Bar("warm", "pipper warm", "original"),
            Bar("offline", "pipper --offline", "original"),
        ),
    ),
    (
        "index",
        (
            Bar("uv_cold", "uv from a static index, cold"),
            Bar("pipper_cold", "pipper --installer uv, cold", "uv_cold"),
            Bar("uv_warm", "uv from a static index, warm"),
            Bar("pipper_warm", "pipper --installer uv, warm", "uv_warm"),
        ),
    ),
    (
        "install",
        (
            Bar("original", "original 0.11.1 (pip per package)"),
            Bar("pip", "pipper --installer pip", "original"),
            Bar("uv", "pipper --installer uv", "original"),
        ),
    ),
)

_COLORS = {"original": "#9e9e9e", "uv": "#e8871e", "pipper": "#2f6db5"}


def chart_paths(json_path: Path) -> tuple[Path, Path]:
    """Where a run's chart goes: beside its JSON, as ``.png`` and ``.svg``."""
    return json_path.with_suffix(".png"), json_path.with_suffix(".svg")


def load(path: Path) -> dict[str, Any]:
    """A saved run's JSON, or a one-line exit."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read the run to chart, {path}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise SystemExit(f"error: {path} is not the JSON of a `python -m benchmarks` run")
    return doc


def panels(doc: dict[str, Any]) -> list[tuple[str, list[tuple[Bar, float, str]]]]:
    """Each panel with data: its title and its bars as (bar, median seconds, note)."""
    results = doc["results"]
    latency = (doc.get("settings") or {}).get("latency_ms")
    found = []
    for name, bars in PANELS:
        series = results.get(name) or {}
        medians = {
            bar.key: float(series[bar.key]["median_s"])
            for bar in bars
            if isinstance(series.get(bar.key), dict) and series[bar.key].get("median_s")
        }
        if not medians:
            continue
        drawn = []
        for bar in bars:
            if bar.key not in medians:
                continue
            note = seconds(medians[bar.key])
            base = medians.get(bar.against or "")
            if base:
                speedup = base / medians[bar.key]
                word = "faster" if speedup >= 1 else "slower"
                than = "uv" if (bar.against or "").startswith("uv_") else "the original"
                note += f", {ratio(speedup if speedup >= 1 else 1 / speedup)} {word} than {than}"
            drawn.append((bar, medians[bar.key], note))
        found.append((_title(name, results, latency), drawn))
    return found


def _title(name: str, results: dict[str, Any], latency: float | None) -> str:
    per_request = f", {latency:g} ms per request" if latency is not None else ""
    if name == "download":
        graph = results.get("graph") or {}
        return (
            f"download: {graph.get('packages', '?')} packages, {graph.get('levels', '?')} "
            f"levels, {size(graph.get('bundle_bytes') or 0)}{per_request}"
        )
    part = results.get(name) or {}
    if name == "index":
        return f"install of the same graph vs uv from a static index{per_request}"
    return f"install: {part.get('packages', '?')} packages into a fresh --target, empty cache"


def _color(bar: Bar) -> str:
    if bar.key == "original":
        return _COLORS["original"]
    return _COLORS["uv"] if bar.key.startswith("uv_") else _COLORS["pipper"]


def footer(doc: dict[str, Any]) -> str:
    machine = doc.get("machine") or {}
    described = describe_machine(machine) if "cpu_count" in machine else "machine unknown"
    server = ((doc.get("results") or {}).get("server") or {}).get("kind", "-")
    return (
        f"{doc.get('command', 'python -m benchmarks')}, finished {doc.get('finished', '?')}\n"
        f"{described}\nS3 server: {server} on 127.0.0.1 behind a latency proxy; bars are "
        "medians of interleaved runs"
    )


def write(doc: dict[str, Any], png: Path, svg: Path) -> list[Path] | str:
    """Draw the chart into ``png`` and ``svg``: the paths written, or why none was."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        return "no chart: matplotlib is not installed (pip install -e '.[bench]')"
    found = panels(doc)
    if not found:
        return "no chart: the run has none of the download, index and install results"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, smaller
    matplotlib.rcParams["svg.hashsalt"] = "pipper-benchmarks"  # stable ids between runs
    heights = [len(bars) * 0.45 + 0.9 for _, bars in found]
    figure = Figure(figsize=(10, sum(heights) + 1.6), layout="constrained")
    mode = (doc.get("settings") or {}).get("mode", "")
    figure.suptitle(f"pipper benchmarks ({mode} run): median wall time, shorter is better")
    grid = figure.add_gridspec(len(found), 1, height_ratios=heights)
    for row, (title, bars) in enumerate(found):
        axes = figure.add_subplot(grid[row])
        labels = [bar.label for bar, _, _ in bars][::-1]
        values = [value for _, value, _ in bars][::-1]
        colors = [_color(bar) for bar, _, _ in bars][::-1]
        drawn = axes.barh(labels, values, color=colors, height=0.6)
        axes.bar_label(drawn, labels=[note for _, _, note in bars][::-1], padding=4, fontsize=9)
        axes.set_title(title, loc="left", fontsize=10)
        axes.set_xlim(0, max(values) * 1.75)
        axes.set_xlabel("seconds", fontsize=9)
        axes.tick_params(labelsize=9)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
    figure.text(0.01, 0.002, footer(doc), fontsize=7.5, va="bottom", ha="left", color="#444444")
    figure.get_layout_engine().set(rect=(0, 0.07, 1, 0.93))  # type: ignore[union-attr,call-arg]
    for path in (png, svg):
        path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=110, metadata={"Software": None})
    figure.savefig(svg, metadata={"Date": None, "Creator": None})
    return [png, svg]
