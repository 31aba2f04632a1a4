"""Run a command as a user would and measure it: wall time, exit code, peak RSS, output.

Each command is a fresh process (interpreter start-up is part of what a user waits for). Its
peak RSS cannot come from the runner's own ``wait4``: Linux carries a process's high-water RSS
across ``exec``, and a child forked (or vforked) from the runner starts with the runner's RSS
(boto3, the proxy, buffers: ~180 MiB), which would hide the command's own. So every command is
started by a tiny launcher interpreter (about 10 MiB) that spawns it, reaps it with ``wait4``
and reports its wall time, exit code and peak RSS; the launcher's own start-up is not timed.
"""

from __future__ import annotations

import os
import shutil
import signal
import site
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Variables that would let a developer's own setup leak into a run (a profile, a real endpoint,
# a saved pipper repository, an interpreter path that shadows the tool being measured).
_DROP_PREFIXES = ("AWS_", "PIPPER_", "PYTHON", "VIRTUAL_ENV", "UV_")


@dataclass(frozen=True)
class Measured:
    seconds: float
    returncode: int
    maxrss_kib: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0
    """User plus system CPU of the command and its children (pip, uv)."""

    def check(self, what: str, log: Path | None = None) -> Measured:
        if self.returncode != 0:
            where = f"; output kept in {log}" if log else ""
            tail = "" if log else "\n" + self.stderr.strip()[-2000:]
            raise RuntimeError(f"{what} exited with code {self.returncode}{where}{tail}")
        return self


def clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The runner's environment without AWS/pipper/Python settings, with its own HOME and dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES)}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        PIPPER_HOME=str(home / "pipper-home"),
        PIPPER_DATA_DIR=str(home / "pipper-data"),
        PIPPER_CACHE_DIR=str(home / "pipper-cache"),
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
    )
    env.update(extra or {})
    return env


def ours_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """As ``clean_env``: ``checkout_python`` finds this checkout without ``PYTHONPATH``."""
    return clean_env(home, extra)


def pipper_cmd(python: Path, *args: str) -> list[str]:
    """This project's command line, run by ``python`` (``checkout_python``)."""
    return [str(python), "-m", "pipper", *args]


def checkout_python(folder: Path) -> Path:
    """An interpreter that runs this checkout as an installed pipper starts: a virtual
    environment whose one ``.pth`` file lists the checkout and the runner's site-packages
    (where pipper's dependencies are), so the code measured is the working tree's.

    The runner's own environment is an editable install, whose import hook setuptools loads at
    every start of its interpreter (about 20 ms here, paid by no installed pipper); a path in a
    ``.pth`` costs nothing, and the ``.pth`` files of the folders it names are not run. uv, when
    the runner has it beside its interpreter, is linked beside this one, where pipper looks.
    """
    python = folder / "bin" / "python"
    if not python.exists():
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", "--without-pip", str(folder)], check=True
        )
    site_dir = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    paths = [str(REPO_ROOT), *site.getsitepackages()]
    (Path(site_dir) / "pipper-checkout.pth").write_text("\n".join(paths) + "\n")
    uv, beside = Path(sys.executable).parent / "uv", folder / "bin" / "uv"
    if uv.is_file() and not beside.exists():
        beside.symlink_to(uv)
    return python


_LAUNCHER = """\
import os, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawn(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
with open(report, "w") as out:
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    out.write(f"{elapsed!r} {code} {usage.ru_maxrss} {cpu!r}")
"""


def run(
    cmd: Sequence[str],
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = 900.0,
    log: Path | None = None,
) -> Measured:
    """Run ``cmd`` to the end; output goes to temporary files (pipes could fill and block)."""
    argv = list(cmd)
    if not os.path.isabs(argv[0]):
        found = shutil.which(argv[0], path=env.get("PATH"))
        if found is None:
            raise FileNotFoundError(argv[0])
        argv[0] = found
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory(prefix="pipper-bench-") as tmp,
    ):
        report = Path(tmp) / "report"
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER, str(report), *argv],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TimeoutError(f"{' '.join(argv[:3])} took more than {timeout:.0f} s") from None
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        if proc.returncode != 0 or not report.is_file():
            raise RuntimeError(f"the launcher failed ({proc.returncode}): {stderr[-2000:]}")
        elapsed, status, maxrss, cpu = report.read_text().split()
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n")
    return Measured(float(elapsed), int(status), int(maxrss), stdout, stderr, float(cpu))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def repeat(times: int, once: Callable[[int], float]) -> list[float]:
    return [once(i) for i in range(times)]
