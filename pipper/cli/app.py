"""The Typer application, its global options, and where errors become exit codes.

``PipperGroup`` turns any ``PipperError`` into one line on stderr and its exit code, wherever in
the command tree it was raised; ``run`` is the one event loop of a command.

Signals end a command the way Ctrl-C does: ``stop_on_signals`` makes SIGTERM and SIGHUP raise
``Terminated`` (a ``KeyboardInterrupt``, which asyncio lets through at once), so every ``with``
block unwinds: the progress display gives the cursor back, the cache hold and temporary files are
released. A reader that goes away (``pipper list | head -1``) ends the command silently.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Annotated, Any, TextIO, TypeVar

import typer
from typer.core import TyperGroup

from pipper import __version__
from pipper.cli.output import configure, err, is_debug
from pipper.errors import PipperError

T = TypeVar("T")


class Terminated(KeyboardInterrupt):
    """A signal asked pipper to stop; raised by the handler ``stop_on_signals`` installs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second signal ends pipper at once
    raise Terminated(signum)


def stop_on_signals() -> None:
    """Turn SIGTERM (a cancelled CI job) and SIGHUP (a closed terminal) into ``Terminated``."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)


def _reader_gone(stream: TextIO) -> bool:
    """True when ``stream`` is a pipe whose reader has closed it: only then is a broken pipe
    the user's ``| head`` rather than a failure worth reporting (a socket can break too)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _silence(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at the null device, so the exit's flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def _interrupted(exc: KeyboardInterrupt) -> typer.Exit:
    if isinstance(exc, Terminated):
        err(f"error: terminated by {signal.Signals(exc.signum).name}")
        return typer.Exit(128 + exc.signum)
    err("error: interrupted")
    return typer.Exit(130)


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
        except KeyboardInterrupt as exc:
            raise _interrupted(exc) from None
        except BaseExceptionGroup as group:
            interrupt = group.subgroup(KeyboardInterrupt)  # a signal inside a task group
            if interrupt is None:
                raise _unexpected(group) from None
            first: BaseException = interrupt
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            assert isinstance(first, KeyboardInterrupt)
            raise _interrupted(first) from None
        except BrokenPipeError as exc:
            gone = [s for s in (sys.stdout, sys.stderr) if _reader_gone(s)]
            if not gone:
                raise _os_error(exc) from None
            for stream in gone:
                _silence(stream)
            raise typer.Exit(0) from None
        except OSError as exc:
            raise _os_error(exc) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")):
                raise  # Typer's own control flow: --help, usage errors, Exit
            raise _unexpected(exc) from None


def _os_error(exc: OSError) -> typer.Exit:
    if is_debug():
        traceback.print_exc()
    where = f": {exc.filename}" if exc.filename else ""
    err(f"error: {exc.strerror or type(exc).__name__}{where}")
    return typer.Exit(1)


def _unexpected(exc: BaseException) -> typer.Exit:
    if is_debug():
        traceback.print_exc()
    err(f"error: unexpected {type(exc).__name__} (run with --debug for the traceback)")
    return typer.Exit(1)


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
