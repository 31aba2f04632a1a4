"""``--compare``: this run (or a saved one) against a saved earlier run, row by row, new / old.

The rows are read from the JSON documents alone (the targets judged again from their
results), so any two runs can be compared, also runs written before a scenario or a target
existed (such a row is then missing on one side and shown as ``-``).
A ratio below 1 means the new run took less time (or memory); for the speed-up targets
("N x faster") above 1 is the better direction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import Section
from benchmarks.targets import judge, show

SETTINGS_THAT_MATTER = ("mode", "packages", "depth", "latency_ms", "repeat")


@dataclass(frozen=True)
class Row:
    label: str
    value: float
    unit: str
    cpu: float | None = None


def load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read the run to compare with, {path}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise SystemExit(f"error: {path} is not the JSON of a `python -m benchmarks` run")
    return doc


def rows(results: dict[str, Any]) -> dict[str, Row]:
    """Every comparable number of a run: timed series, start-up, memory, target values."""
    found = {row.label: row for row in _series_rows(results)}
    for name, value in (results.get("startup") or {}).items():
        if isinstance(value, int | float):
            found[f"start-up: {name}"] = Row(f"start-up: {name}", float(value), "s")
    memory = results.get("memory") or {}
    for key in ("small_peak_rss_mib", "big_peak_rss_mib"):
        if isinstance(memory.get(key), int | float):
            label = f"memory: {key.removesuffix('_mib').replace('_', ' ')}"
            found[label] = Row(label, float(memory[key]), "MiB")
    for verdict in judge(results):  # judged again: a run saved before a target existed has it
        if verdict["value"] is not None:
            label = f"target: {verdict['target']}"
            found[label] = Row(label, float(verdict["value"]), verdict["unit"])
    return found


def _series_rows(results: dict[str, Any]) -> Iterator[Row]:
    """A row per timed series (a dict with ``median_s``), named by where it sits."""
    for scenario, node in results.items():
        if not isinstance(node, dict):
            continue
        for kind, series in node.items():
            if isinstance(series, dict) and "median_s" in series:
                yield _timed(f"{scenario}: {kind}", series)
            elif isinstance(series, list):
                for i, item in enumerate(series):
                    if isinstance(item, dict) and "median_s" in item:
                        key = next((k for k in ("packages", "concurrency") if k in item), None)
                        name = f"{key} {item[key]}" if key else str(i)
                        yield _timed(f"{scenario}: {name}", item)


def _timed(label: str, series: dict[str, Any]) -> Row:
    cpu = series.get("cpu_median_s")
    return Row(label, float(series["median_s"]), "s", float(cpu) if cpu is not None else None)


def section(old: dict[str, Any], new: dict[str, Any], old_name: str) -> Section:
    """The table: every row either run has, old beside new, and new / old."""
    before, after = rows(old["results"]), rows(new["results"])
    found = Section(
        f"compared with {old_name} (finished {old.get('finished', '?')}, commit "
        f"{old.get('machine', {}).get('commit', '?')})",
        ["row", "old", "new", "new/old", "old CPU", "new CPU", "CPU new/old"],
    )
    for label in [*before, *(label for label in after if label not in before)]:
        a, b = before.get(label), after.get(label)
        unit = a.unit if a else b.unit if b else "s"
        found.add(
            label,
            _show(a.value if a else None, unit),
            _show(b.value if b else None, unit),
            _change(a.value if a else None, b.value if b else None),
            _show(a.cpu if a else None, "s"),
            _show(b.cpu if b else None, "s"),
            _change(a.cpu if a else None, b.cpu if b else None),
        )
    was, now = old.get("settings") or {}, new.get("settings") or {}
    differ = [
        f"{key} {was.get(key)} -> {now.get(key)}"
        for key in SETTINGS_THAT_MATTER
        if was.get(key) != now.get(key)
    ]
    if differ:
        found.notes.append("the runs differ in their settings: " + ", ".join(differ))
    found.notes.append(
        "new/old below 1: the new run took less (time, memory, share of a bound); for the "
        "speed-up targets (wanted: N x faster) above 1 is better"
    )
    return found


def _show(value: float | None, unit: str) -> str:
    return "-" if value is None else show(value, unit)


def change(old: float | None, new: float | None) -> float | None:
    """new / old, or None where either is missing or the old one is zero."""
    if old is None or new is None or old == 0:
        return None
    return new / old


def _change(old: float | None, new: float | None) -> str:
    found = change(old, new)
    return "-" if found is None else f"{found:.2f}"
