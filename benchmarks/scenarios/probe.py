"""Client cost: import times and CPU per request of aiobotocore's client, of pipper's store on
its lean path, and of a minimal SigV4 client.

The measuring itself happens in a fresh interpreter (``python -m benchmarks.probe``), so the
import times are real first imports; this module runs it and renders what it prints.
"""

from __future__ import annotations

import json
import sys

from benchmarks import procs
from benchmarks.bench import Bench
from benchmarks.procs import REPO_ROOT
from benchmarks.report import Section, seconds


def run(bench: Bench) -> None:
    assert bench.main is not None
    cmd = [sys.executable, "-m", "benchmarks.probe", "--bucket", bench.main.bucket]
    log = bench.log("probe")
    measured = procs.run(cmd, bench.ours_env, cwd=REPO_ROOT, log=log)
    measured.check("the client probe", log)
    data = json.loads(measured.stdout.strip().splitlines()[-1])
    bench.results["probe"] = data
    imports, boto, mini = data["imports_s"], data["aiobotocore"], data["mini"]
    ours = data["pipper"]
    requests = boto["requests"]
    section = Section(
        f"client cost: {requests} requests as a cold download makes them "
        "(a LIST per package, a GET per bundle streamed and hashed), 32 at a time, in-process",
        ["client", "import", "set-up", "CPU per LIST", "CPU per GET", f"CPU for {requests}"],
    )
    boto_import = imports["aiobotocore.session"] + imports["aiobotocore.config"]
    for label, row, imported in (
        ("aiobotocore's client", boto, boto_import),
        ("pipper's store (that session, lean GET/LIST)", ours, boto_import),
        ("minimal SigV4 over asyncio (floor)", mini, 0.0),
    ):
        half = requests / 2
        cpu = (row["list_cpu_ms_per_request"] + row["get_cpu_ms_per_request"]) * half / 1000
        section.add(
            label,
            seconds(imported),
            seconds(row.get("client_create_cpu_s", 0.0)),
            f"{row['list_cpu_ms_per_request']:.2f} ms",
            f"{row['get_cpu_ms_per_request']:.2f} ms",
            seconds(cpu),
        )
    section.notes.append(f"also imported by `pipper download`: typer {seconds(imports['typer'])}")
    section.notes.append(
        "pipper's set-up is its second opening in the process, with botocore's data files kept "
        "(as a run finds them in its cache); aiobotocore's is the first, parsing them"
    )
    bench.sections.append(section)
