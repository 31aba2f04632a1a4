"""The Typer app with every command registered: importing a command's module registers it."""

from __future__ import annotations

from pipper.cli import (  # noqa: F401  (registers the commands)
    authorize,
    bundle,
    cache,
    completion,
    config,
    delete,
    demo,
    download,
    index,
    info,
    install,
    lock,
    prune_releases,
    publish,
    repository,
    tree,
    yank,
)
from pipper.cli.base import app

__all__ = ["app"]
