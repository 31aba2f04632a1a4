"""The original pipper 0.11.1 from PyPI, in a virtual environment of its own.

Its console script imports a top-level package also called ``pipper``, so it must never run
with this checkout on ``PYTHONPATH``: ``original_env`` builds its environment from scratch.
The venv is reused across runs; a marker file records that the install finished.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from benchmarks.procs import clean_env

VERSION = "0.11.1"


def ensure_venv(work: Path) -> Path:
    """The ``pipper`` script of the original, installed under ``work`` on first use."""
    venv = work / "original-venv"
    script = venv / "bin" / "pipper"
    marker = venv / f".pipper-{VERSION}-installed"
    if marker.is_file() and script.is_file():
        return script
    print(f"installing the original pipper {VERSION} into {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    env = clean_env(work / "home-install")
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"pipper=={VERSION}"],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"pip could not install pipper=={VERSION} from PyPI:\n{proc.stderr[-2000:]}"
        )
    marker.write_text(VERSION + "\n")
    return script


def original_env(home: Path, s3_env: Mapping[str, str]) -> dict[str, str]:
    """Credentials and endpoint in ``AWS_*`` (the original honours ``AWS_ENDPOINT_URL``)."""
    return clean_env(home, s3_env)
