"""``pipper prune-releases``: delete old versions, keeping the newest N and the newest final one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli._releases import YesOption, check_can_confirm, confirm, on_repository
from pipper.cli.base import app
from pipper.cli.options import with_repository
from pipper.cli.output import info

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.releases import Release


@app.command("prune-releases")
@with_repository
def prune_releases(
    names: Annotated[list[str], typer.Argument(help="The packages to prune.", show_default=False)],
    keep: Annotated[
        int,
        typer.Option("--keep", min=1, metavar="N", help="How many of the newest versions to keep."),
    ],
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            min=0,
            metavar="DAYS",
            help="Remove only versions published at least DAYS days ago.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be removed; remove nothing.")
    ] = False,
    yes: YesOption = False,
    *,
    repo: RepositoryOptions,
) -> None:
    """Delete all but the newest N versions of each package; never its newest final release.

    Versions are ordered by version number. Prints every version it removes (or would).
    Asks for confirmation on a terminal; pass --yes in scripts.

    Example: pipper prune-releases alpha_pkg beta_pkg --keep 10 --older-than 90 --dry-run
    """
    from datetime import timedelta

    import anyio

    from pipper.releases import RetentionPlan, delete_release, plan_prune
    from pipper.repositories import Repository
    from pipper.storage.base import Storage

    check_can_confirm(yes or dry_run, "pipper prune-releases")
    age = timedelta(days=older_than) if older_than is not None else None

    async def go(storage: Storage, repository: Repository) -> list[RetentionPlan]:
        plans = await plan_prune(storage, repository, names, keep=keep, older_than=age)
        doomed = [release for plan in plans for release in plan.remove]
        for plan in plans:
            for release, why in plan.protected:
                typer.echo(f"keeping {release}: {why}")
        if dry_run or not yes:
            for release in doomed:
                verb = "would remove" if dry_run else "will remove"
                typer.echo(f"{verb} {release} ({_where_and_when(release)})")
        if dry_run or not doomed:
            return plans
        if not yes:
            question = f"Remove these {len(doomed)} versions from {repository.describe()}?"
            await anyio.to_thread.run_sync(confirm, question)
        for release in doomed:
            await delete_release(storage, release, repository=repository)
            typer.echo(f"removed {release} ({_where_and_when(release)})")
        return plans

    plans, repository = on_repository(repo, go)
    removed = sum(len(plan.remove) for plan in plans)
    kept = sum(len(plan.keep) for plan in plans)
    done = "Would remove" if dry_run else "Removed"
    info(f"{done} {removed} versions, kept {kept}, in {repository.describe()}")


def _where_and_when(release: Release) -> str:
    newest = release.candidates[-1]
    when = newest.last_modified
    return newest.key + (f", published {when:%Y-%m-%d}" if when else "")
