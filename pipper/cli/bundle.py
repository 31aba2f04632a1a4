"""``pipper bundle``: build a project's wheel and wrap it as a .pipper bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipper.cli.base import app


@app.command()
def bundle(
    directory: Annotated[
        Path, typer.Argument(help="The project folder (pyproject.toml or setup.py).")
    ] = Path("."),
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Folder for the .pipper file.", show_default="."),
    ] = Path("."),
    build_isolation: Annotated[
        bool,
        typer.Option(
            "--build-isolation/--no-build-isolation",
            help="Build in an isolated environment (pip's default; needs the build backend "
            "from an index) or with the running interpreter's packages.",
        ),
    ] = True,
) -> None:
    """Build the wheel of the project in DIRECTORY and write <name>-<safe_version>.pipper.

    The project's pipper.json (dependencies on other private packages) goes into the bundle.

    Example: pipper bundle . -o dist/
    """
    from pipper.build import bundle_project

    path = bundle_project(directory, output, isolation=build_isolation)
    typer.echo(str(path))
