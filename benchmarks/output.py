"""The run's three outputs: the JSON document, the plain-text tables, the markdown tables.

All three come from the same sections and results, so what the terminal shows, what the README
quotes and what ``--compare`` reads later cannot disagree.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.bench import Bench
from benchmarks.report import (
    Section,
    command_line,
    describe_machine,
    machine,
    markdown_table,
    text_table,
)

ORDER = (
    "download",
    "client",
    "install",
    "memory",
    "scaling",
    "bucket size",
    "Start-up",
    "targets",
    "compared",
)
"""Sections in this order (by the start of their title); any other goes last."""


def document(bench: Bench) -> dict[str, Any]:
    return {
        "command": command_line(bench.argv),
        "mode": bench.s.mode,
        "machine": machine(),
        "settings": {k: _plain(v) for k, v in asdict(bench.s).items()},
        "results": bench.results,
        "errors": bench.errors,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def load_note(results: dict[str, Any]) -> str:
    """Other work on the machine skews wall times; the CPU columns are steadier."""
    before = results.get("load_average_before", [])
    after = results.get("load_average_after", [])
    steal = results.get("cpu_steal")
    stolen = f"; CPU stolen by the host: {100 * steal:.1f}%" if steal is not None else ""
    return (
        f"Load average (1/5/15 min) before: {'/'.join(map(str, before)) or '-'}, after: "
        f"{'/'.join(map(str, after)) or '-'}{stolen}; CPU = user + system time of the command"
    )


def ordered(sections: list[Section]) -> list[Section]:
    return sorted(
        sections,
        key=lambda sec: next((i for i, w in enumerate(ORDER) if sec.title.startswith(w)), 99),
    )


def write(bench: Bench) -> str:
    """Write the JSON and the markdown; return the plain text for the terminal."""
    doc = document(bench)
    results, latency = bench.results, bench.s.latency_ms
    server = results.get("server", {}).get("kind", "-")
    sections = ordered(bench.sections)
    header = (
        f"Command: {doc['command']}\nMachine: {describe_machine(doc['machine'])}\n"
        f"S3 server: {server} on 127.0.0.1 behind a proxy adding {latency:g} ms per request; "
        f"finished {doc['finished']} in {results.get('elapsed_s', 0):.0f} s\n{load_note(results)}"
    )
    text = "\n\n".join([header, *(text_table(sec) for sec in sections)])
    if bench.errors:
        text += "\n\nErrors:\n" + "\n".join(f"  {e}" for e in bench.errors)
    _write_text(bench.s.json_out, json.dumps(doc, indent=2) + "\n")
    markdown = "\n\n".join(
        [
            f"Command: `{doc['command']}`  \nMachine: {describe_machine(doc['machine'])}  \n"
            f"S3 server: {server} on 127.0.0.1 behind a proxy adding {latency:g} ms per "
            f"request  \n{load_note(results)}",
            *(markdown_table(sec) for sec in sections),
        ]
    )
    _write_text(bench.s.md_out, markdown + "\n")
    return text


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
