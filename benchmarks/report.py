"""Render the results: an aligned plain-text table, a markdown table, and the machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.procs import REPO_ROOT

Row = Sequence[str]


@dataclass
class Section:
    title: str
    headers: Row
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])


def text_table(section: Section) -> str:
    widths = [len(h) for h in section.headers]
    for row in section.rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Row) -> str:
        first, *rest = cells
        parts = [first.ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [section.title, line(section.headers), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in section.rows]
    out += [f"  {note}" for note in section.notes]
    return "\n".join(out)


def markdown_table(section: Section) -> str:
    def line(cells: Row) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---"] + ["---:"] * (len(section.headers) - 1)
    out = [f"**{section.title}**", "", line(section.headers), line(align)]
    out += [line(row) for row in section.rows]
    if section.notes:
        out.append("")
        out += [f"- {note}" for note in section.notes]
    return "\n".join(out)


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "commit": _git_commit(),
    }


def describe_machine(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu_count']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB RAM, "
        f"{info['implementation']} {info['python']}, {info['platform']}, "
        f"commit {info['commit']}"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError):
        pass
    return None


def _git_commit() -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return proc.stdout.strip() or "unknown"


def command_line(argv: Sequence[str]) -> str:
    return " ".join(["python -m benchmarks", *argv]).strip()


def seconds(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def ratio(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if value < 0.1:
        return f"{value:.2f}x"
    return f"{value:.1f}x" if value < 100 else f"{value:.0f}x"


def mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


def size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def python_version() -> str:
    return sys.version.split()[0]
