"""``pipper demo``: the quickstart, on the default local repository, with no AWS account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli.base import app, run
from pipper.cli.options import context, with_repository
from pipper.cli.output import info, summary

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.models import RunResult


@app.command()
@with_repository
def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "-d",
            "--directory",
            metavar="DIR",
            help="Where to write pipper.json and vendor/. (default: pipper-demo)",
        ),
    ] = Path("pipper-demo"),
    *,
    repo: RepositoryOptions,
) -> None:
    """Publish a small demo graph to the local repository, then download it like a project would.

    Runs the equivalent of: pipper download -i pipper-demo/pipper.json -d pipper-demo/vendor
    """
    import tempfile

    from pipper.cli.runs import resolve_graph
    from pipper.demo import demo_bundles
    from pipper.errors import VersionExistsError
    from pipper.export import export
    from pipper.publish import publish
    from pipper.specs import load_input

    ctx = context(repo)
    repository = ctx.repository

    async def seed() -> int:
        added = 0
        with tempfile.TemporaryDirectory() as tmp:
            async with ctx.open_storage(create=True) as storage:
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

    def place(result: RunResult) -> None:
        export(result.packages, vendor)

    result = resolve_graph(ctx, load_input(manifest).ids(dev=False), "Downloading", after=place)
    for package in result.packages.values():
        deps = ", ".join(result.packages[d].candidate.name for d in package.dependencies) or "-"
        typer.echo(f"  {package.candidate.name:<12} {package.candidate.version:<8} needs: {deps}")
    info(summary(result, "Downloaded", f" into {vendor}"))
