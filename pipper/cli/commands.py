"""The Typer app with every command registered: importing a command's module registers it."""

from __future__ import annotations

from pipper.cli import (  # noqa: F401  (registers the commands)
    authorize,
    bundle,
    cache,
    demo,
    download,
    info,
    install,
    lock,
    publish,
    repository,
)
from pipper.cli.base import app

__all__ = ["app"]
