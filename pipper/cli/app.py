"""The Typer application and its global options."""

from __future__ import annotations

from typing import Annotated

import typer

from pipper import __version__
from pipper.cli._common import PipperGroup, configure

app = typer.Typer(
    name="pipper",
    cls=PipperGroup,
    help="Private Python packages from an S3 bucket (or a local directory): resolve, download, "
    "cache, install, bundle and publish.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pipper {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show debug messages and tracebacks.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors on stderr.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    configure(debug, quiet)
