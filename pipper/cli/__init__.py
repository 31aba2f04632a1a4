"""The ``pipper`` command line: a thin layer that parses, calls the core and renders.

Each command lives in its own module, imported only when it runs (``registry.py``). Heavy
modules (aioboto3, botocore, rich) are imported inside the commands, so ``pipper --help`` is
quick; ``pipper --version`` does not even import Typer, since scripts call it to check what is
installed.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: importing typing cost --version 4 ms (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["app", "main"]

_VERSION_FLAGS = (["--version"], ["-V"])


def __getattr__(name: str) -> Any:
    """``pipper.cli.base``, the Typer app with every command, built on first use."""
    if name == "app":
        from pipper.cli.commands import app

        return app
    raise AttributeError(f"module 'pipper.cli' has no attribute {name!r}")


def main() -> None:
    """The ``pipper`` script. A command is one short process, so it skips work that only pays
    off in a long one: the cyclic collector skips what lives as long as the process (the
    start-up's imports, the S3 client: ``pipper.collector``) and runs rarely, and once the
    outputs are flushed the process ends without tearing down the interpreter, which on a
    200-package run took about 0.14 s of CPU."""
    if sys.argv[1:] in _VERSION_FLAGS:
        from pipper import __version__

        sys.stdout.write(f"pipper {__version__}\n")
        return
    import gc

    gc.disable()  # until the start-up is imported: see pipper.collector

    from pipper import collector
    from pipper.cli import completion
    from pipper.cli.base import app, install_interrupt_handler, stop_on_signals

    install_interrupt_handler()
    stop_on_signals()
    completion.enable_completion()
    collector.take_over()
    try:
        app(prog_name="pipper")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
    _exit(code)


def _exit(code: int) -> None:
    """Flush what the command wrote, then end the process at once."""
    import os

    logging = sys.modules.get("logging")
    if logging is not None:  # --version never imports it
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            code = code or 1 if stream is sys.stderr else code
    os._exit(code)
