"""The benchmark runner: its smallest mode runs end to end and writes its table, JSON and
markdown; its targets and its ``--compare`` are judged from the JSON alone."""

from __future__ import annotations

import copy
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from benchmarks import compare, settings, targets
from benchmarks.runner import cpu_ticks, steal_share
from benchmarks.scenarios import SCENARIOS
from tests.lib.cli import REPO_ROOT
from tests.lib.s3servers import server_kind


def _benchmarks(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks ARGS`` from the repository root, as the README says to run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPPER_"))}
    env.pop("PYTHONPATH", None)  # the root is importable because it is the working directory
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height, read from its signature and IHDR chunk (CRC checked): enough to
    know the file is a PNG, without an image library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(kind + body) == crc
    width, height, bit_depth, color_type = struct.unpack(">IIBB", body[:10])
    assert bit_depth == 8 and color_type in (2, 6)  # RGB or RGBA
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


def _earlier_run(cold_s: float, cold_cpu_s: float) -> dict[str, Any]:
    """The smallest document ``--compare`` accepts: one timed row of an earlier run."""
    return {
        "command": "python -m benchmarks --smoke",
        "finished": "2026-01-01 00:00:00 +0000",
        "machine": {"commit": "earlier"},
        "settings": {"mode": "smoke"},
        "results": {"download": {"cold": {"median_s": cold_s, "cpu_median_s": cold_cpu_s}}},
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_run_writes_table_json_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "results" / "smoke.json"
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps(_earlier_run(cold_s=1000.0, cold_cpu_s=500.0)))
    proc = _benchmarks(
        "--smoke",
        "--server",
        server_kind(),
        "--json-out",
        str(out),
        "--work-dir",
        str(tmp_path / "work"),
        "--compare",
        str(earlier),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "pipper cold (empty cache)" in proc.stdout

    doc = json.loads(out.read_text())
    assert doc["command"].startswith("python -m benchmarks --smoke")
    assert doc["machine"]["cpu_count"] == os.cpu_count()
    assert doc["errors"] == []
    if sys.platform == "linux":  # the host's share of this run's CPU time, from /proc/stat
        assert 0 <= doc["results"]["cpu_steal"] < 1
        assert "CPU stolen by the host" in proc.stdout
    download = doc["results"]["download"]
    assert "original" not in download
    graph_size = doc["results"]["graph"]["packages"]
    cold = download["cold"]
    assert cold["median_s"] > 0
    assert cold["pipper"]["depth"] == doc["results"]["graph"]["levels"] - 1
    # Through the proxy: at most one LIST and exactly one GET per package cold (one listing of
    # the whole prefix may answer every package), no GET warm, nothing at all offline.
    assert 1 <= cold["requests"][0]["list"] <= graph_size
    assert cold["requests"][0]["get"] == graph_size
    assert all(r["get"] == 0 for r in download["warm"]["requests"])
    assert all(r["all"] == 0 for r in download["offline"]["requests"])

    # uv installed the same graph from the static index (checked package by package by the
    # runner): at least a project page and a wheel per package, through the proxy.
    index = doc["results"]["index"]
    assert {"pipper_cold", "uv_cold", "pipper_warm", "uv_warm"} <= set(index)
    assert index["uv_cold"]["requests"][0]["get"] >= 2 * graph_size
    assert index["pipper_cold"]["requests"][0]["get"] == graph_size
    # The crowded bucket: the same GETs, among the other packages' keys.
    crowded = doc["results"]["crowded"]
    assert crowded["other_keys"] == crowded["other_packages"] * crowded["versions_each"] > 0
    for name in ("alone", "crowded"):
        assert crowded[name]["requests"][0]["get"] == graph_size

    # Every target of the table is reported, in its order, with what it wants; the smoke run
    # has no original, so the rows against it say so instead of passing.
    verdicts = doc["results"]["targets"]
    assert [v["target"] for v in verdicts] == [t.row for t in targets.TARGETS]
    assert [v["wanted"] for v in verdicts] == [t.wanted for t in targets.TARGETS]
    by_row = {v["target"]: v for v in verdicts}
    assert by_row["warm download: bundle GETs"]["met"] is True
    assert by_row["offline download: requests"]["met"] is True
    for row in (
        "cold install (uv) vs uv from a static index",
        "warm install (uv) vs uv from a static index",
        "bucket size: crowded vs alone",
        "time per package: largest graph vs main graph",
        "pipper --version start-up",
    ):
        assert by_row[row]["value"] is not None, by_row[row]
    against_original = by_row["cold download vs original"]
    assert (against_original["measured"], against_original["met"]) == ("not run", None)
    assert all((v["value"] is None) == (v["met"] is None) for v in verdicts)
    for verdict in verdicts:
        assert f"{verdict['target']}  " in proc.stdout

    # The comparison with the earlier run: this run's cold download against 1000 s.
    assert f"compared with {earlier}" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("download: cold  "))
    assert f"{cold['median_s'] / 1000.0:.2f}" in line.split()

    markdown = out.with_suffix(".md").read_text()
    assert "| pipper cold (empty cache) |" in markdown
    assert "Machine:" in markdown
    assert "| download: cold |" in markdown

    # The chart: a real PNG and an SVG whose text names the runs, the machine and the date.
    assert f"chart: {out.with_suffix('.png')}, {out.with_suffix('.svg')}" in proc.stdout
    width, height = png_size(out.with_suffix(".png"))
    assert width > 600 and height > 400
    svg = out.with_suffix(".svg").read_text()
    for text in ("pipper cold", "uv from a static index, cold", "pipper --installer pip"):
        assert text in svg
    assert doc["finished"] in svg and doc["machine"]["cpu_model"] in svg

    # Two saved runs: compared without running anything (no server, so it is quick).
    slower = copy.deepcopy(doc)
    slower["results"]["download"]["cold"]["median_s"] = cold["median_s"] * 2
    later = tmp_path / "later.json"
    later.write_text(json.dumps(slower))
    proc = _benchmarks("--compare", str(out), str(later), timeout=30)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("download: cold  "))
    assert "2.00" in line.split()
    assert "download: warm" in proc.stdout


def test_chart_of_a_saved_run(tmp_path: Path) -> None:
    """``--chart`` draws a saved run and runs nothing; bars it has no number for are left out."""
    saved = tmp_path / "run.json"
    run = _earlier_run(cold_s=2.0, cold_cpu_s=1.0)
    run["results"]["download"]["original"] = {"median_s": 30.0}
    run["results"]["install"] = {"packages": 5, "pip": {"median_s": 1.5}}
    saved.write_text(json.dumps(run))
    proc = _benchmarks("--chart", str(saved), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert png_size(saved.with_suffix(".png"))[0] > 600
    svg = saved.with_suffix(".svg").read_text()
    assert "15.0x faster than the original" in svg and "2026-01-01 00:00:00" in svg
    assert "pipper --installer pip" in svg and "pipper warm" not in svg
    missing = _benchmarks("--chart", str(tmp_path / "missing.json"), timeout=30)
    assert missing.returncode != 0
    assert missing.stderr.startswith("error: cannot read the run to chart")
    assert "Traceback" not in missing.stderr


def test_compare_needs_a_readable_run(tmp_path: Path) -> None:
    proc = _benchmarks("--compare", str(tmp_path / "missing.json"), timeout=30)
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: cannot read the run to compare with")
    assert "Traceback" not in proc.stderr


def test_compare_rows_new_over_old_and_missing_rows() -> None:
    old = _earlier_run(cold_s=2.0, cold_cpu_s=1.0)
    new = copy.deepcopy(old)
    new["results"]["download"]["cold"] = {"median_s": 1.0, "cpu_median_s": 2.0}
    new["results"]["startup"] = {"pipper --version": 0.05}
    new["settings"] = {"mode": "full"}
    table = compare.section(old, new, "old.json")
    rows = {row[0]: row for row in table.rows}
    assert rows["download: cold"][1:] == ["2.00 s", "1.00 s", "0.50", "1.00 s", "2.00 s", "2.00"]
    assert rows["start-up: pipper --version"][1:4] == ["-", "50 ms", "-"]
    assert any("mode smoke -> full" in note for note in table.notes)


def test_targets_are_judged_from_the_results() -> None:
    results: dict[str, Any] = {
        "download": {
            "original": {"median_s": 40.0},
            "cold": {"median_s": 1.0, "requests": [{"get": 3}]},
            "warm": {"median_s": 1.0, "requests": [{"get": 0}, {"get": 1}]},
        },
        "install": {"error": "pip exited with code 1"},
    }
    verdicts = {v["target"]: v for v in targets.judge(results)}
    against_original = verdicts["cold download vs original"]
    assert (against_original["value"], against_original["met"]) == (40.0, True)
    assert against_original["measured"] == "40.0x"
    # One warm run made a GET: the worst run counts.
    assert verdicts["warm download: bundle GETs"]["value"] == 1
    assert verdicts["warm download: bundle GETs"]["met"] is False
    # A scenario that failed explains its missing number.
    install = next(v for v in verdicts.values() if v["target"].startswith("install 30"))
    assert (install["measured"], install["met"]) == ("pip exited with code 1", None)
    assert verdicts["offline download: requests"]["measured"] == "not run"


def test_time_per_package_is_judged_against_the_main_graph() -> None:
    def row(packages: int, median_s: float) -> dict[str, float]:
        return {"packages": packages, "median_s": median_s}

    results: dict[str, Any] = {
        "graph": {"packages": 200},
        "scaling": {"packages": [row(2000, 30.0), row(50, 1.0), row(200, 2.0)]},
    }
    # 30 s / 2000 against 2 s / 200: 1.5x the time per package, so the target is missed.
    assert targets.per_package_growth(results) == pytest.approx(1.5)
    verdict = next(v for v in targets.judge(results) if v["target"].startswith("time per"))
    assert verdict["met"] is False
    results["scaling"]["packages"] = [row(200, 2.0)]
    assert targets.per_package_growth(results) is None


def test_every_scenario_the_command_line_names_exists() -> None:
    assert tuple(SCENARIOS) == settings.SCENARIOS


def test_the_share_of_cpu_time_stolen_by_the_host() -> None:
    assert steal_share((100, 1000), (150, 2000)) == 0.05
    assert steal_share((100, 1000), (100, 1000)) is None  # no time passed
    assert steal_share(None, (100, 1000)) is None  # not Linux
    if sys.platform == "linux":
        steal, total = cpu_ticks() or (-1, -1)
        assert 0 <= steal <= total
