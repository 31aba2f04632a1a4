"""``pipper yank`` and ``pipper unyank``: hide a version from resolution, or show it again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli._releases import NameArgument, VersionArgument, on_repository
from pipper.cli.base import app
from pipper.cli.options import with_repository
from pipper.cli.output import info

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions


@app.command()
@with_repository
def yank(
    name: NameArgument,
    version: VersionArgument,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            metavar="REASON",
            help="Why, shown by info, list and every warning about it.",
        ),
    ] = None,
    *,
    repo: RepositoryOptions,
) -> None:
    """Yank a version: resolution skips it unless a requirement pins it (==), nothing is deleted.

    Locks that name it still install, with a warning. Undo with 'pipper unyank'.

    Example: pipper yank alpha_pkg 1.2.0 --reason "breaks the login page"
    """
    from pipper.releases import yank as yank_release
    from pipper.yanks import describe_yank

    change, repository = on_repository(
        repo, lambda storage, repository: yank_release(storage, repository, name, version, reason)
    )
    if change.changed:
        info(f"Yanked {change.release} in {repository.describe()}")
    else:
        info(f"{change.release} was already {describe_yank(change.previous)}; nothing changed")


@app.command()
@with_repository
def unyank(name: NameArgument, version: VersionArgument, *, repo: RepositoryOptions) -> None:
    """Undo a yank: resolution offers the version again.

    Example: pipper unyank alpha_pkg 1.2.0
    """
    from pipper.releases import unyank as unyank_release

    change, repository = on_repository(
        repo, lambda storage, repository: unyank_release(storage, repository, name, version)
    )
    if change.changed:
        info(f"Unyanked {change.release} in {repository.describe()}")
    else:
        info(f"{change.release} is not yanked; nothing changed")
