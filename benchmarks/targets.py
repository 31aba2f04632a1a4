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


COLD = ("download", "cold", "median_s")
ORIGINAL_DOWNLOAD = ("download", "original", "median_s")

TARGETS: tuple[Target, ...] = (
    Target(
        "cold download vs original",
        5,
        ">=",
        20,
        "x",
        "download",
        quotient(ORIGINAL_DOWNLOAD, COLD),
        " faster",
    ),
    Target(
        "cold download vs bound + start-up",
        5,
        "<=",
        1.5,
        "x",
        "download",
        quotient(COLD, ("bound", "cold_s")),
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
        "install 30 (pip) vs original",
        5,
        ">=",
        5,
        "x",
        "install",
        quotient(("install", "original", "median_s"), ("install", "pip", "median_s")),
        " faster",
    ),
    Target(
        "peak RSS 1 GiB - 1 MiB",
        5,
        "<=",
        50,
        "MiB",
        "memory",
        value("memory", "delta_mib"),
    ),
    Target(
        "pipper --help start-up",
        5,
        "<",
        0.3,
        "s",
        "startup",
        value("startup", "pipper --help"),
    ),
)


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
