"""``pipper delete``: remove one version from the repository, after confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipper.cli._releases import (
    NameArgument,
    VersionArgument,
    YesOption,
    check_can_confirm,
    confirm,
    on_repository,
)
from pipper.cli.base import app
from pipper.cli.options import with_repository
from pipper.cli.output import info

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions


@app.command()
@with_repository
def delete(
    name: NameArgument, version: VersionArgument, yes: YesOption = False, *, repo: RepositoryOptions
) -> None:
    """Delete a version for good: its bundle (and yank marker) leave the repository.

    Locks that name it fail from then on; 'pipper yank' hides a version without that. Asks for
    confirmation on a terminal; pass --yes in scripts.

    Example: pipper delete alpha_pkg 1.2.0 --yes
    """
    import anyio

    from pipper.releases import Release, delete_release, find_release
    from pipper.repositories import Repository
    from pipper.storage.base import Storage

    check_can_confirm(yes, "pipper delete")

    async def go(storage: Storage, repository: Repository) -> Release:
        release = await find_release(storage, repository, name, version)
        keys = ", ".join(c.key for c in release.candidates)
        only = f"; it is the only version of {release.name}" if not release.others else ""
        if not yes:
            question = f"Delete {release} ({keys}) from {repository.describe()}{only}?"
            await anyio.to_thread.run_sync(confirm, question)
        await delete_release(storage, release, repository=repository)
        return release

    release, repository = on_repository(repo, go)
    info(f"Deleted {release} from {repository.describe()}")
    if not release.others:
        info(f"That was the only version: {release.name} is no longer in the repository")
