"""The ``pipper`` command line: a thin layer that parses, calls the core and renders.

Each command lives in its own module; importing them registers them on ``app``. Heavy modules
(aioboto3, botocore, rich) are imported inside the commands, so ``pipper --help`` is instant.
"""

from __future__ import annotations

from pipper.cli import (  # noqa: F401  (registers the commands)
    authorize,
    bundle,
    cache,
    completion,
    config,
    demo,
    download,
    info,
    install,
    lock,
    publish,
    repository,
)
from pipper.cli.app import app, stop_on_signals

__all__ = ["app", "main"]


def main() -> None:
    stop_on_signals()
    completion.enable_completion()
    app(prog_name="pipper")
