"""``pipper publish``: upload bundles to the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipper.cli._common import (
    JsonOption,
    RepoOptions,
    human_size,
    info,
    print_json,
    run,
    with_repository,
)
from pipper.cli.app import app


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
    repo: RepoOptions,
) -> None:
    """Publish bundles; a version that exists is refused unless --force.

    Example: pipper publish ./alpha_pkg-v1-0-0.pipper -b my-bucket
    """
    from pipper.publish import Published, bundles_in
    from pipper.publish import publish as publish_one
    from pipper.storage import open_storage

    bundles = bundles_in(path)
    repository = repo.resolve()
    credentials = None if repository.is_local else repo.credentials_for(repository)

    async def go() -> list[Published]:
        done = []
        async with open_storage(repository, credentials) as storage:
            for bundle in bundles:
                result = await publish_one(storage, repository, bundle, force=force)
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
