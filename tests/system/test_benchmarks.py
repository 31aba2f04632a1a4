"""The benchmark runner's smallest mode runs end to end and writes its table, JSON and markdown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lib.cli import REPO_ROOT
from tests.lib.s3servers import server_kind


@pytest.mark.slow
def test_smoke_run_writes_table_json_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "results" / "smoke.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPPER_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--server",
            server_kind(),
            "--json-out",
            str(out),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "targets of issue #5" in proc.stdout
    assert "pipper cold (empty cache)" in proc.stdout

    doc = json.loads(out.read_text())
    assert doc["command"].startswith("python -m benchmarks --smoke")
    assert doc["machine"]["cpu_count"] == os.cpu_count()
    assert doc["errors"] == []
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
    verdicts = {t["target"]: t["met"] for t in doc["results"]["targets"]}
    assert verdicts["warm download: bundle GETs"] is True
    assert verdicts["offline download: requests"] is True

    markdown = out.with_suffix(".md").read_text()
    assert "| pipper cold (empty cache) |" in markdown
    assert "Machine:" in markdown
