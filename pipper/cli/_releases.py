"""What ``yank``, ``unyank``, ``delete`` and ``prune-releases`` share: arguments, the store,
and the confirmation a removal asks for (on a terminal; ``--yes`` for scripts)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from pipper.cli.base import run
from pipper.cli.options import context
from pipper.errors import PipperError, UsageError

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.repositories import Repository
    from pipper.storage.base import Storage

T = TypeVar("T")

NameArgument = Annotated[
    str, typer.Argument(help="The package name (any spelling: Alpha-Pkg, alpha_pkg).")
]
VersionArgument = Annotated[
    str, typer.Argument(help="The version, as published (1.2.0, 1.2.3-alpha.1, 2.0rc1).")
]


def on_repository(
    repo: RepositoryOptions, action: Callable[[Storage, Repository], Awaitable[T]]
) -> tuple[T, Repository]:
    """Run ``action`` against the repository the options name, in the command's one event loop."""
    ctx = context(repo)
    repository = ctx.repository

    async def go() -> T:
        async with ctx.open_storage() as storage:
            return await action(storage, repository)

    return run(go), repository


YesOption = Annotated[
    bool, typer.Option("-y", "--yes", help="Do not ask for confirmation (for scripts).")
]


def check_can_confirm(yes: bool, command: str) -> None:
    """Refuse, before touching the repository, a removal nobody could confirm."""
    if not yes and not sys.stdin.isatty():
        raise UsageError(f"{command} asks for confirmation and stdin is not a terminal: pass --yes")


def confirm(question: str) -> None:
    """Ask on the terminal; anything but yes stops the command with nothing removed."""
    import click

    try:
        agreed = typer.confirm(question, default=False, err=True)
    except click.exceptions.Abort:
        agreed = False
    if not agreed:
        raise PipperError("not confirmed: nothing was removed")
