"""The ``pipper`` command line: a thin layer that parses, calls the core and renders.

Each command lives in its own module (registered in ``commands.py``). Heavy modules (aioboto3,
botocore, rich) are imported inside the commands, so ``pipper --help`` is quick; ``pipper
--version`` does not even import Typer, since scripts call it to check what is installed.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]

_VERSION_FLAGS = (["--version"], ["-V"])


def __getattr__(name: str) -> Any:
    """``pipper.cli.base``, the Typer app with every command, built on first use."""
    if name == "app":
        from pipper.cli.commands import app

        return app
    raise AttributeError(f"module 'pipper.cli' has no attribute {name!r}")


def main() -> None:
    if sys.argv[1:] in _VERSION_FLAGS:
        from pipper import __version__

        sys.stdout.write(f"pipper {__version__}\n")
        return
    from pipper.cli.commands import app

    app(prog_name="pipper")
