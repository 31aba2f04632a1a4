"""The measured nouns: one timed process (``Run``), several of them (``Series``), a bucket.

A series is reported by its median, never its mean: one run hit by a burst of load from
elsewhere on the machine moves a mean a lot and a median not at all. Wall and CPU seconds are
both kept, since CPU is the steadier of the two on a shared machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import graph as G
from benchmarks.procs import median
from benchmarks.report import ratio, seconds


@dataclass
class Run:
    """One timed process: its wall time, peak RSS and the requests the proxy saw."""

    seconds: float
    cpu_seconds: float
    maxrss_kib: int
    requests: dict[str, int]
    pipper: dict[str, Any] = field(default_factory=dict)


@dataclass
class Series:
    runs: list[Run]

    @property
    def median(self) -> float:
        return median([r.seconds for r in self.runs])

    @property
    def cpu_median(self) -> float:
        return median([r.cpu_seconds for r in self.runs])

    @property
    def best(self) -> float:
        return min(r.seconds for r in self.runs)

    def max_requests(self, kind: str) -> int:
        return max(r.requests.get(kind, 0) for r in self.runs)

    def requests_text(self) -> str:
        first = self.runs[0].requests
        return f"{first['list']}/{first['get']}/{first['head']}"

    def to_json(self) -> dict[str, Any]:
        return {
            "median_s": round(self.median, 4),
            "runs_s": [round(r.seconds, 4) for r in self.runs],
            "cpu_median_s": round(self.cpu_median, 4),
            "cpu_runs_s": [round(r.cpu_seconds, 4) for r in self.runs],
            "max_rss_mib": round(max(r.maxrss_kib for r in self.runs) / 1024, 1),
            "requests": [r.requests for r in self.runs],
            "pipper": self.runs[0].pipper or None,
        }


def series_of(runs: dict[str, list[Run]]) -> dict[str, Series]:
    """The series of every kind of run that ran at least once."""
    return {k: Series(v) for k, v in runs.items() if v}


@dataclass
class Published:
    """A graph uploaded to a bucket; ``bundle_bytes`` is what a full download fetches."""

    bucket: str
    graph: G.Graph
    bundle_bytes: int
    bundles: list[Path] = field(default_factory=list)
    """The bundle files on disk (current and older versions), for scenarios that reuse them."""


TIMING_HEADERS = ("median", "best", "CPU", "runs", "LIST/GET/HEAD")


def timing_cells(got: Series) -> list[str]:
    """The cells under ``TIMING_HEADERS`` for one series."""
    return [
        seconds(got.median),
        seconds(got.best),
        seconds(got.cpu_median),
        str(len(got.runs)),
        got.requests_text(),
    ]


def faster(baseline: Series | None, got: Series) -> str:
    """``N.Nx faster`` (or slower) than the baseline (the original, uv); ``-`` without one."""
    if baseline is None or baseline is got:
        return "-"
    speedup = baseline.median / got.median
    return f"{ratio(speedup)} faster" if speedup >= 1 else f"{ratio(1 / speedup)} slower"
