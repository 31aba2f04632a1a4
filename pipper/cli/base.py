"""The Typer application, its global options, and where errors become exit codes.

``PipperGroup`` turns any ``PipperError`` into one line on stderr and its exit code, wherever in
the command tree it was raised; ``run`` is the one event loop of a command.

Ctrl-C ends the process, always (``install_interrupt_handler``). asyncio's own SIGINT handler
only asks the main task to cancel, which never happens while the loop's thread is blocked in a
system call (an ``open`` of a FIFO, say): Python retries the call after the handler, and the
process runs on. So pipper's handler raises ``KeyboardInterrupt`` at once, wherever the thread
is; the run unwinds (temporary files removed, connections closed), says "error: interrupted" and
exits 130 (``pipper.cli.main`` does not wait for threads). A worker thread stuck in a call can
still hold the unwinding, so the same SIGINT arms a watchdog that ends the process after
``INTERRUPT_GRACE`` seconds, and a second Ctrl-C ends it at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from pipper import __version__
from pipper.cli.output import configure, err, is_debug
from pipper.errors import PipperError

T = TypeVar("T")

INTERRUPTED = 130
INTERRUPT_GRACE = 3.0
_interrupts = {"count": 0, "said": 0}


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
            _say_interrupted()
            raise typer.Exit(INTERRUPTED) from None
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


def _say_interrupted() -> None:
    if not _interrupts["said"]:
        _interrupts["said"] = 1
        err("error: interrupted")


def _end_now() -> None:
    """Leave without waiting for anything: no thread, no unwinding can hold the process."""
    _say_interrupted()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(INTERRUPTED)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _interrupts["count"] += 1
    if _interrupts["count"] > 1:
        _end_now()
    watchdog = threading.Timer(INTERRUPT_GRACE, _end_now)
    watchdog.daemon = True
    watchdog.start()
    raise KeyboardInterrupt


def install_interrupt_handler() -> None:
    """Make Ctrl-C end the process (see the module docstring): for the ``pipper`` script only,
    an in-process runner (tests) keeps Python's own handling."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


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
