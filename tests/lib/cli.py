"""The CLI runner: run ``pipper`` in this process or as a real one, publish a graph through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.lib.wheels import make_bundle

REPO_ROOT = Path(__file__).resolve().parents[2]

# name -> version -> dependencies (pipper ids, also written as the wheel's Requires-Dist names)
Graph = Mapping[str, Mapping[str, Sequence[str]]]


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The ``--json`` output: parsed data a test indexes into, so it is typed ``Any``."""
        return json.loads(self.stdout)


def cli(*args: str, env: Mapping[str, str] | None = None) -> CliResult:
    """Run ``pipper ARGS`` in this process (fast); exceptions are not swallowed silently."""
    from pipper.cli import app

    result = CliRunner().invoke(app, list(args), env=dict(env) if env else None)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def one_error(result: CliResult) -> str:
    """The last line of stderr, which must be pipper's one ``error:`` line (no traceback)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return lines[-1]


def pipper(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipper ARGS`` as a real process, as a user would (``stdin``: its input)."""
    return subprocess.run(
        [sys.executable, "-m", "pipper", *args],
        env=_process_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )


def spawn(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m pipper ARGS`` as a real process, for a test that signals or races it."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipper", *args],
        env=_process_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _process_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """This environment, plus ``env``, with this checkout first on the path."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), full_env.get("PYTHONPATH", "")) if p
    )
    return full_env


class PtyProcess:
    """``python -m pipper ARGS`` with stdin, stdout and stderr on a pseudo-terminal, as in a
    user's terminal; a thread collects everything it writes into ``output``."""

    def __init__(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        import pty
        import threading

        full = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TERM": "xterm", **(env or {})}
        for name in ("NO_COLOR", "FORCE_COLOR"):  # color as a terminal gets it, unless asked
            if name not in (env or {}):
                full.pop(name, None)
        self._master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipper", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full,
            cwd=cwd,
        )
        os.close(slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            self.output.extend(chunk)

    def wait(self, timeout: float = 60) -> int:
        """The exit code, once the process ended and its output is all read."""
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(timeout=10)
            os.close(self._master)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


def requirement_names(deps: Sequence[str]) -> list[str]:
    return [d.split(":")[0].split("=")[0].split("<")[0].split(">")[0] for d in deps]


def publish_graph(
    tmp_path: Path,
    repo_args: Sequence[str],
    graph: Graph,
    *,
    sizes: Mapping[str, int] | None = None,
) -> Path:
    """Bundle every (name, version) of ``graph`` and publish them all with ``pipper publish``."""
    out = tmp_path / "bundles"
    out.mkdir(exist_ok=True)
    for name, versions in graph.items():
        for version, deps in versions.items():
            make_bundle(
                out,
                name,
                version,
                dependencies=list(deps),
                requires=requirement_names(deps),
                payload_size=(sizes or {}).get(name, 0),
            )
    result = cli("publish", str(out), *repo_args)
    assert result.exit_code == 0, result.stderr
    return out
