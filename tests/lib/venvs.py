"""Real virtual environments for install tests, and what their interpreter itself reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

__all__ = ["fresh_venv", "import_version", "installed_in"]


def fresh_venv(where: Path) -> Path:
    """A pip-less environment (as uv makes them): pipper drives its own pip at it."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, capture_output=True
    )
    return where / "bin" / "python"


def installed_in(python: Path) -> dict[str, str]:
    """What ``python`` itself reports, independently of pipper's own inspection."""
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run(
        [str(python), "-c", code], check=True, capture_output=True, text=True, cwd=python.parent
    )
    return {k.replace("_", "-").lower(): v for k, v in json.loads(out.stdout).items()}


def import_version(python: Path, module: str) -> str:
    """``module.__version__`` as ``python`` imports it."""
    out = subprocess.run(
        [str(python), "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
