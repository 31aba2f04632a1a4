"""``pipper completion SHELL``: the shell's completion script, to ``eval`` or save.

The scripts are Typer's own: the shell calls ``pipper`` back with ``_PIPPER_COMPLETE`` set and
the words typed so far, and the command tree answers. ``main`` registers Typer's completion
classes before the tree runs, so that call works without the completion options Typer would add.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from pipper.cli.base import app

COMPLETE_VAR = "_PIPPER_COMPLETE"


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command("completion")
def completion(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> None:
    """Print the completion script for SHELL.

    Examples: eval "$(pipper completion bash)" in ~/.bashrc;
    pipper completion fish > ~/.config/fish/completions/pipper.fish
    """
    from typer._completion_shared import get_completion_script

    typer.echo(get_completion_script(prog_name="pipper", complete_var=COMPLETE_VAR, shell=shell))


def enable_completion() -> None:
    """Let the shell's completion call (``_PIPPER_COMPLETE=complete_bash pipper``) be answered."""
    from typer._completion_classes import completion_init

    completion_init()
