"""``pipper publish``: upload bundles to the repository."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli.base import app, run
from pipper.cli.options import JsonOption, context, with_repository
from pipper.cli.output import human_size, info, print_json

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions


@app.command()
@with_repository
def publish(
    path: Annotated[
        Path, typer.Argument(help="A .pipper bundle, or a folder whose bundles are all published.")
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a version that is already published.")
    ] = False,
    json_output: JsonOption = False,
    *,
    repo: RepositoryOptions,
) -> None:
    """Publish bundles; a version that exists is refused unless --force.

    Example: pipper publish ./alpha_pkg-v1-0-0.pipper -b my-bucket
    """
    from pipper.publish import Published, bundles_in
    from pipper.publish import publish as publish_one

    bundles = bundles_in(path)
    ctx = context(repo)

    async def go() -> list[Published]:
        done = []
        async with ctx.open_storage() as storage:
            for bundle in bundles:
                result = await publish_one(storage, ctx.repository, bundle, force=force)
                info(
                    f"Published {result.name} {result.version} "
                    f"({human_size(result.size)}) to {result.key}"
                    + (" (replaced)" if result.replaced else "")
                )
                done.append(result)
        return done

    results = run(go)
    if json_output:
        print_json([r.__dict__ for r in results])
