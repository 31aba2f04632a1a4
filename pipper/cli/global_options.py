"""The global options: accepted before or after any command, declared once here.

``PipperApp`` (``cli/base.py``) puts them on the root and copies them onto every command; their
callbacks record each value with ``output.set_global`` as it is parsed, wherever it stood.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from pipper.cli.help import described
from pipper.cli.output import set_global

GLOBAL_PANEL = "Global options"


class ColorChoice(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def _record(name: str) -> Callable[[Any], Any]:
    """The callback that records a global option in :mod:`pipper.cli.output` as it is parsed."""

    def record(value: Any) -> Any:
        if value:
            set_global(name, value.value if isinstance(value, ColorChoice) else value)
        return value

    return record


def _no_progress(value: bool) -> bool:
    if value:
        set_global("progress", False)
    return value


QuietOption = Annotated[
    bool,
    typer.Option(
        "-q",
        "--quiet",
        help="Only errors on stderr.",
        callback=_record("quiet"),
        rich_help_panel=GLOBAL_PANEL,
    ),
]
VerboseOption = Annotated[
    int,
    typer.Option(
        "-v",
        "--verbose",
        count=True,
        help="More on stderr: -v says what pipper does, -vv adds debug detail.",
        callback=_record("verbosity"),
        rich_help_panel=GLOBAL_PANEL,
    ),
]
DebugOption = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="Debug detail and tracebacks.",
        callback=_record("debug"),
        rich_help_panel=GLOBAL_PANEL,
    ),
]
ColorOption = Annotated[
    ColorChoice | None,
    typer.Option(
        "--color",
        metavar="WHEN",
        help=described(
            "Color on stderr (and 'pipper tree' on stdout): auto (on a terminal), always or never.",
            env="NO_COLOR, FORCE_COLOR",
            default="auto",
        ),
        callback=_record("color"),
        rich_help_panel=GLOBAL_PANEL,
    ),
]
NoProgressOption = Annotated[
    bool,
    typer.Option(
        "--no-progress",
        help=described(
            "No progress display (a terminal) and no phase lines (a log).",
            env="PIPPER_NO_PROGRESS",
        ),
        callback=_no_progress,
        rich_help_panel=GLOBAL_PANEL,
    ),
]
