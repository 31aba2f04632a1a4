"""``pipper bundle``: build a project's wheel and wrap it as a .pipper bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipper.cli.base import app


@app.command()
def bundle(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="The project folder (pyproject.toml or setup.py). (default: .)"
        ),
    ] = Path("."),
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", metavar="DIR", help="Folder for the .pipper file. (default: .)"
        ),
    ] = Path("."),
    no_build_isolation: Annotated[
        bool,
        typer.Option(
            "--no-build-isolation",
            help="Build with the running interpreter's packages instead of pip's isolated "
            "environment (which needs the build backend from an index).",
        ),
    ] = False,
) -> None:
    """Build the wheel of the project in DIR and write NAME-SAFE_VERSION.pipper.

    The project's pipper.json (dependencies on other private packages) goes into the bundle.

    Example: pipper bundle . -o dist/
    """
    from pipper.build import bundle_project

    path = bundle_project(directory, output, isolation=not no_build_isolation)
    typer.echo(str(path))
