"""The targets, as data: one table of report row -> what the issue asks, judged from the JSON.

Every target reads its number from the run's ``results`` (the JSON), not from objects in
memory, so a saved run can be judged again and two runs compared row by row. A target whose
scenario did not run is still listed, with the reason, so a missing number is never mistaken
for a met one.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.report import Section, ratio, seconds

Results = dict[str, Any]
Measure = Callable[[Results], float | None]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


def lookup(results: Results, path: Sequence[str]) -> Any:
    """``results[a][b]...``, or None where any step is missing."""
    found: Any = results
    for part in path:
        if not isinstance(found, dict) or part not in found:
            return None
        found = found[part]
    return found


def value(*path: str) -> Measure:
    """The number at ``path``."""
    return lambda results: _number(lookup(results, path))


def quotient(numerator: Sequence[str], denominator: Sequence[str]) -> Measure:
    """``numerator / denominator``: a speed-up (slow over fast) or a share (run over bound)."""

    def measure(results: Results) -> float | None:
        top, bottom = _number(lookup(results, numerator)), _number(lookup(results, denominator))
        if top is None or not bottom:
            return None
        return top / bottom

    return measure


def most_requests(path: Sequence[str], kind: str) -> Measure:
    """The most requests of ``kind`` any run of the series at ``path`` made."""

    def measure(results: Results) -> float | None:
        runs = lookup(results, [*path, "requests"])
        if not runs:
            return None
        return float(max(r.get(kind, 0) for r in runs))

    return measure


def _number(found: Any) -> float | None:
    return float(found) if isinstance(found, int | float) else None


@dataclass(frozen=True)
class Target:
    row: str
    issue: int
    op: str
    goal: float
    unit: str
    """``x`` (a ratio), ``s``, ``MiB`` or ``count``: how the goal and the number are shown."""
    scenario: str
    """Whose skip or error explains a missing number."""
    measure: Measure
    suffix: str = ""

    @property
    def wanted(self) -> str:
        op = "" if self.op == "==" else f"{self.op} "
        goal = f"{self.goal:g}{self.unit}" if self.unit == "x" else show(self.goal, self.unit)
        return f"{op}{goal}{self.suffix}"

    def judge(self, results: Results) -> dict[str, Any]:
        got = self.measure(results)
        if got is None:
            why = results.get(self.scenario, {})
            shown = why.get("skipped") or why.get("error") or "not run"
            met = None
        else:
            shown, met = show(got, self.unit), _OPS[self.op](got, self.goal)
        return {
            "target": self.row,
            "issue": self.issue,
            "wanted": self.wanted,
            "measured": shown,
            "value": None if got is None else round(got, 6),
            "unit": self.unit,
            "met": met,
        }


def show(number: float, unit: str) -> str:
    if unit == "x":
        return ratio(number)
    if unit == "s":
        return seconds(number)
    if unit == "MiB":
        return f"{number:.1f} MiB" if number % 1 else f"{number:g} MiB"
    return f"{number:g}"


def per_package_growth(results: Results) -> float | None:
    """Time per package of the largest scaled graph over that of the main graph (of the
    smallest when the main graph is the largest): at most 1 when the cost per package does
    not grow with the graph."""
    rows = sorted(lookup(results, ("scaling", "packages")) or [], key=lambda r: r["packages"])
    if len(rows) < 2:
        return None
    main = lookup(results, ("graph", "packages"))
    top = rows[-1]
    base = next((r for r in rows[:-1] if r["packages"] == main), rows[0])
    return float((top["median_s"] / top["packages"]) / (base["median_s"] / base["packages"]))


def _median(*path: str) -> tuple[str, ...]:
    return (*path, "median_s")


ORIGINAL = _median("download", "original")
FASTER = " faster"

TARGETS: tuple[Target, ...] = (
    # row, issue, op, goal, unit, scenario, measure[, suffix]
    Target(
        "cold download vs original",
        12,
        ">=",
        16,
        "x",
        "download",
        quotient(ORIGINAL, _median("download", "cold")),
        FASTER,
    ),
    Target(
        "warm download vs original",
        12,
        ">=",
        30,
        "x",
        "download",
        quotient(ORIGINAL, _median("download", "warm")),
        FASTER,
    ),
    Target(
        "offline download vs original",
        12,
        ">=",
        50,
        "x",
        "download",
        quotient(ORIGINAL, _median("download", "offline")),
        FASTER,
    ),
    Target(
        "cold download vs bound + start-up",
        5,
        "<=",
        1.5,
        "x",
        "download",
        quotient(_median("download", "cold"), ("bound", "cold_s")),
    ),
    Target(
        "warm download: bundle GETs",
        5,
        "==",
        0,
        "count",
        "download",
        most_requests(("download", "warm"), "get"),
    ),
    Target(
        "offline download: requests",
        5,
        "==",
        0,
        "count",
        "download",
        most_requests(("download", "offline"), "all"),
    ),
    Target(
        "cold install (uv) vs uv from a static index",
        12,
        ">",
        1,
        "x",
        "index",
        quotient(_median("index", "uv_cold"), _median("index", "pipper_cold")),
        FASTER,
    ),
    Target(
        "warm install (uv) vs uv from a static index",
        12,
        ">",
        1,
        "x",
        "index",
        quotient(_median("index", "uv_warm"), _median("index", "pipper_warm")),
        FASTER,
    ),
    Target(
        "install 30 (pip) vs original",
        5,
        ">=",
        5,
        "x",
        "install",
        quotient(_median("install", "original"), _median("install", "pip")),
        FASTER,
    ),
    Target(
        "bucket size: crowded vs alone",
        12,
        "<=",
        1.3,
        "x",
        "crowded",
        quotient(_median("crowded", "crowded"), _median("crowded", "alone")),
    ),
    Target(
        "time per package: largest graph vs main graph",
        12,
        "<=",
        1,
        "x",
        "scaling",
        per_package_growth,
    ),
    Target(
        "cold download: files and folders beyond one per bundle",
        12,
        "<=",
        270,
        "count",
        "download",
        value("download", "cold_files", "beyond_one_per_bundle"),
    ),
    Target(
        "pipper --version start-up",
        12,
        "<",
        0.04,
        "s",
        "startup",
        value("startup", "pipper --version"),
    ),
    Target(
        "pipper --help start-up",
        12,
        "<",
        0.12,
        "s",
        "startup",
        value("startup", "pipper --help"),
    ),
    Target(
        "peak RSS 1 GiB - 1 MiB",
        12,
        "<=",
        50,
        "MiB",
        "memory",
        value("memory", "delta_mib"),
    ),
)
"""The targets of issue #12 (and those of issue #5 it did not replace), in report order."""


def judge(results: Results, targets: Sequence[Target] = TARGETS) -> list[dict[str, Any]]:
    return [t.judge(results) for t in targets]


def section(verdicts: Sequence[dict[str, Any]]) -> Section:
    issues = sorted({v["issue"] for v in verdicts})
    label = "issue" if len(issues) == 1 else "issues"
    found = Section(
        f"targets of {label} {', '.join(f'#{i}' for i in issues)}",
        ["target", "wanted", "measured", "met"],
    )
    for v in verdicts:
        found.add(
            v["target"], v["wanted"], v["measured"], {True: "yes", False: "NO", None: "-"}[v["met"]]
        )
    return found
