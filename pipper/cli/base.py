"""The Typer application, its global options, and where errors become exit codes.

``PipperGroup`` turns any ``PipperError`` into one line on stderr and its exit code, wherever in
the command tree it was raised; ``run`` is the one event loop of a command.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from pipper import __version__
from pipper.cli.output import configure, err, is_debug
from pipper.errors import PipperError

T = TypeVar("T")


class PipperGroup(TyperGroup):
    """Runs a command and turns a ``PipperError`` into one line and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PipperError as exc:
            if is_debug():
                traceback.print_exc()
            err(f"error: {exc.message}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err("error: interrupted")
            raise typer.Exit(130) from None
        except OSError as exc:
            if is_debug():
                traceback.print_exc()
            where = f": {exc.filename}" if exc.filename else ""
            err(f"error: {exc.strerror or type(exc).__name__}{where}")
            raise typer.Exit(1) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")):
                raise  # Typer's own control flow: --help, usage errors, Exit
            if is_debug():
                traceback.print_exc()
            err(f"error: unexpected {type(exc).__name__} (run with --debug for the traceback)")
            raise typer.Exit(1) from None


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """The one event loop of a command (asyncio: aiobotocore needs it)."""
    import anyio

    return anyio.run(coro_fn, backend="asyncio")


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
