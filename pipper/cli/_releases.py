"""What ``yank``, ``unyank``, ``delete`` and ``prune-releases`` share: arguments, the store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from pipper.cli._common import RepoOptions, run

if TYPE_CHECKING:
    from pipper.config import Repository
    from pipper.storage import Storage

T = TypeVar("T")

NameArgument = Annotated[
    str, typer.Argument(help="The package name (any spelling: Alpha-Pkg, alpha_pkg).")
]
VersionArgument = Annotated[
    str, typer.Argument(help="The version, as published (1.2.0, 1.2.3-alpha.1, 2.0rc1).")
]


def on_repository(
    repo: RepoOptions, action: Callable[[Storage, Repository], Awaitable[T]]
) -> tuple[T, Repository]:
    """Run ``action`` against the repository the options name, in the command's one event loop."""
    from pipper.storage import open_storage

    repository = repo.resolve()
    credentials = None if repository.is_local else repo.credentials_for(repository)

    async def go() -> T:
        async with open_storage(repository, credentials) as storage:
            return await action(storage, repository)

    return run(go), repository
