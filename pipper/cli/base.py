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

Signals end a command cleanly: ``stop_on_signals`` makes SIGTERM and SIGHUP cancel the running
event loop's main task (as asyncio does for Ctrl-C), so every coroutine unwinds through its
``finally`` and ``async with`` (connections closed, temporary files removed, the cache hold
released), and ``run`` then raises ``Terminated``; outside the loop the handler raises it at
once. Either way the progress display gives the cursor back and the command ends with one
``error:`` line. A reader that goes away (``pipper list | head -1``) ends the command silently.
"""

from __future__ import annotations

import contextlib
import copy
import os
import select
import signal
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer
from typer._click.utils import make_default_short_help
from typer.core import TyperGroup

from pipper import __version__
from pipper.cli.global_options import (
    GLOBAL_PANEL,
    ColorOption,
    DebugOption,
    NoProgressOption,
    QuietOption,
    VerboseOption,
)
from pipper.cli.help import format_options_by_panel, make_plain, plain_param
from pipper.cli.output import error, is_debug, reset
from pipper.cli.registry import COMMANDS, load
from pipper.errors import PipperError

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

INTERRUPTED = 130
INTERRUPT_GRACE = 3.0
_interrupts = {"count": 0, "said": 0}


class Terminated(KeyboardInterrupt):
    """A signal asked pipper to stop; raised by the handler ``stop_on_signals`` installs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Loop:
    """The event loop ``run`` is in, so a signal handler can cancel its main task."""

    task: asyncio.Task[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    signals: list[int] = []  # noqa: RUF012  (one per process, like the handlers)


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second signal ends pipper at once
    task, loop = _Loop.task, _Loop.loop
    if task is not None and loop is not None and not task.done():
        _Loop.signals.append(signum)
        task.cancel()
        loop.call_soon_threadsafe(lambda: None)  # wake the loop, as asyncio does for SIGINT
        return
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
        error(f"terminated by {signal.Signals(exc.signum).name}")
        return typer.Exit(128 + exc.signum)
    _say_interrupted()
    return typer.Exit(INTERRUPTED)


class PipperGroup(TyperGroup):
    """Runs a command and turns a ``PipperError`` into one line and its exit code."""

    def get_help_option(self, ctx: Any) -> Any:
        return plain_param(super().get_help_option(ctx))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_options_by_panel(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PipperError as exc:
            if is_debug():
                traceback.print_exc()
            error(exc.message)
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
    error(f"{exc.strerror or type(exc).__name__}{where}")
    return typer.Exit(1)


def _unexpected(exc: BaseException) -> typer.Exit:
    if is_debug():
        traceback.print_exc()
    error(f"unexpected {type(exc).__name__} (run with --debug for the traceback)")
    return typer.Exit(1)


def _say_interrupted() -> None:
    if not _interrupts["said"]:
        _interrupts["said"] = 1
        error("interrupted")


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
    import asyncio

    import anyio

    async def main() -> T:
        _Loop.task, _Loop.loop = asyncio.current_task(), asyncio.get_running_loop()
        try:
            return await coro_fn()
        finally:
            _Loop.task = _Loop.loop = None

    try:
        return anyio.run(main, backend="asyncio")
    except BaseException:
        if _Loop.signals:  # the loop was cancelled by a signal: whatever it raised on the way
            raise Terminated(_Loop.signals.pop()) from None
        raise


class PipperApp(PipperGroup):
    """The root command: its commands load on use (``registry``), its global options work after
    any command.

    The global options (``-q``, ``-v``, ``--debug``, ``--color``, ``--no-progress``) are the
    root's own parameters; a copy of each is added to every command below, so click parses
    ``pipper -q list`` and ``pipper list -q`` alike. Their callbacks record them in
    :mod:`pipper.cli.output` (the copies expose no value to the command function).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared = [
            p for p in self.params if getattr(p, "rich_help_panel", None) == GLOBAL_PANEL
        ]
        _share(self, self.shared)
        make_plain(self)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        reset()
        return super().main(*args, **kwargs)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *sorted(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, its module imported and its click object built on first use."""
        command = self.commands.get(cmd_name)
        if command is None:
            command = load(app, cmd_name)
            if command is not None:
                self.add_command(command, cmd_name)
                _share(self, self.shared)
                make_plain(command)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As Typer's, with "Did you mean" drawn from every command, loaded or not."""
        from difflib import get_close_matches

        from typer._click.exceptions import UsageError

        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                said = ", ".join(repr(m) for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {said}?"
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The commands and their summaries, without loading a command that is not loaded."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is None:
                rows.append((name, make_default_short_help(COMMANDS[name].summary, limit)))
            elif not loaded.hidden:
                rows.append((name, loaded.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _share(group: TyperGroup, shared: list[Any]) -> None:
    for command in group.commands.values():
        have = {p.name for p in command.params}
        for param in shared:
            if param.name not in have:
                local = copy.copy(param)
                local.expose_value = False
                command.params.append(local)
        if isinstance(command, TyperGroup):
            _share(command, shared)


app = typer.Typer(
    name="pipper",
    cls=PipperApp,
    help="Private Python packages from an S3 bucket (or a local directory): resolve, download, "
    "cache, install, bundle and publish.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help (cli/help.py): importing rich cost --help 80 ms
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pipper {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    quiet: QuietOption = False,
    verbose: VerboseOption = 0,
    debug: DebugOption = False,
    color: ColorOption = None,
    no_progress: NoProgressOption = False,
    version: Annotated[
        bool,
        typer.Option(
            "-V",
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """The global options are recorded by their callbacks (see ``PipperApp``)."""
