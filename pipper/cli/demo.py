"""``pipper demo``: the quickstart, on the default local repository, with no AWS account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipper.cli._common import RepoOptions, info, open_cache, run, with_repository
from pipper.cli.app import app


@app.command()
@with_repository
def demo(
    directory: Annotated[
        Path, typer.Option("-d", "--directory", help="Where to write pipper.json and vendor/.")
    ] = Path("pipper-demo"),
    *,
    repo: RepoOptions,
) -> None:
    """Publish a small demo graph to the local repository, then download it like a project would.

    Runs the equivalent of: pipper download -i pipper-demo/pipper.json -d pipper-demo/vendor
    """
    import tempfile

    from pipper.cli.download import summary
    from pipper.demo import demo_bundles
    from pipper.errors import VersionExistsError
    from pipper.publish import publish
    from pipper.session import Session, export
    from pipper.specs import load_input
    from pipper.storage import open_storage

    repository = repo.resolve()
    credentials = None if repository.is_local else repo.credentials_for(repository)

    async def seed() -> int:
        added = 0
        with tempfile.TemporaryDirectory() as tmp:
            async with open_storage(repository, credentials) as storage:
                for bundle in demo_bundles(Path(tmp)):
                    try:
                        await publish(storage, repository, bundle)
                        added += 1
                    except VersionExistsError:
                        pass
        return added

    added = run(seed)
    info(f"Demo packages in {repository.describe()}: {added} published now")
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "pipper.json"
    manifest.write_text(json.dumps({"dependencies": ["demo_app"]}, indent=2) + "\n")
    vendor = directory / "vendor"
    info(f"$ pipper download -i {manifest} -d {vendor}")
    session = Session(repository, open_cache(None), credentials=credentials)
    result = run(lambda: session.resolve(load_input(manifest).ids(dev=False)))
    export(result.packages, vendor)
    for package in result.packages.values():
        deps = ", ".join(result.packages[d].candidate.name for d in package.dependencies) or "-"
        typer.echo(f"  {package.candidate.name:<12} {package.candidate.version:<8} needs: {deps}")
    info(summary(result, "Downloaded", f" into {vendor}"))
