"""Start-up: how long a user waits before pipper does anything (``--version``, ``--help``).

``python -c pass`` is timed beside them: it is the floor every command pays, and the bound of
every other scenario includes it.
"""

from __future__ import annotations

from benchmarks import procs
from benchmarks.bench import Bench
from benchmarks.report import Section, seconds


def run(bench: Bench) -> None:
    s = bench.s
    bare = procs.clean_env(bench.scratch / "home")
    commands = {
        "python -c pass": ([str(bench.python), "-c", "pass"], bare),
        "pipper --version": (bench.pipper_cmd("--version"), bench.ours_env),
        "pipper --help": (bench.pipper_cmd("--help"), bench.ours_env),
    }
    found: dict[str, float] = {}
    for name, (cmd, env) in commands.items():
        procs.run(cmd, env).check(name)  # writes the .pyc files before timing
        found[name] = procs.median(
            [procs.run(cmd, env).check(name).seconds for _ in range(s.startup_repeat)]
        )
    bench.results["startup"] = {k: round(v, 4) for k, v in found.items()}
    section = Section(f"Start-up (median of {s.startup_repeat})", ["command", "time"])
    for name, value in found.items():
        section.add(name, seconds(value))
    bench.sections.append(section)
