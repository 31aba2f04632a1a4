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
    wheels: Annotated[
        list[Path] | None,
        typer.Option(
            "--wheel",
            metavar="WHEEL",
            help="Bundle this prebuilt wheel instead of building DIR (repeat it, or give "
            "dist/*.whl): one bundle per wheel, with DIR's pipper.json.",
        ),
    ] = None,
    python: Annotated[
        Path | None,
        typer.Option(
            "--python",
            metavar="PYTHON",
            help="Build with this interpreter (its pip), so a compiled wheel gets its tags. "
            "(default: pipper's own)",
        ),
    ] = None,
    extra_wheels: Annotated[list[Path] | None, typer.Argument(hidden=True)] = None,
) -> None:
    """Build the wheel of the project in DIR and write NAME-SAFE_VERSION.pipper.

    The project's pipper.json (dependencies on other private packages) goes into the bundle.
    A platform wheel's bundle is named NAME-SAFE_VERSION.TAGS.pipper, so the wheels of one
    version can share a folder; 'pipper publish' adds each to its version.

    Examples: pipper bundle . -o dist/ ;
    pipper bundle --wheel wheelhouse/*.whl -o dist/
    """
    from pipper.build import bundle_project, bundle_wheels
    from pipper.errors import UsageError

    if wheels:
        if python is not None or no_build_isolation:
            raise UsageError(
                "--wheel bundles wheels as they are: drop --python and --no-build-isolation"
            )
        # ``--wheel a.whl b.whl`` (a shell glob) leaves the later wheels as arguments.
        given = [*wheels, *(extra_wheels or [])]
        if directory.suffix == ".whl":
            given.insert(0, directory)
            directory = Path(".")
        pipper_json = directory / "pipper.json"
        for path in bundle_wheels(given, output, pipper_json if pipper_json.is_file() else None):
            typer.echo(str(path))
        return
    if extra_wheels:
        raise UsageError(f"unexpected argument {extra_wheels[0]}: bundle takes one DIR")
    from pipper.install import target_python

    interpreter = target_python(python) if python is not None else None
    path = bundle_project(directory, output, isolation=not no_build_isolation, python=interpreter)
    typer.echo(str(path))
