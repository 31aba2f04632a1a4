"""Help that reads like pip's and uv's: plain metavars, one style for defaults, workflow order.

Typer describes a value by its Python type (``<bool>``, ``<list[str]>``, ``<int range>``,
``{path}``), which tells a user nothing. Every option here names its value with a metavar
(``NAME``, ``DIR``, ``FILE``, ``N``), flags show none, and defaults and environment variables are
written in the help text in one style, ``(env: PIPPER_X; default: Y)``, built by :func:`described`.
``make_plain`` turns the parameters Typer built into these plain kinds, once, when the command
tree is made.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = [
    "PlainArgument",
    "PlainCommand",
    "PlainOption",
    "described",
    "format_options_by_panel",
    "make_plain",
    "plain_param",
]


def described(text: str, *, env: str | None = None, default: str | None = None) -> str:
    """An option's help with its environment variable and default, always in this style."""
    notes = [f"env: {env}"] if env else []
    if default is not None:
        notes.append(f"default: {default}")
    return f"{text} ({'; '.join(notes)})" if notes else text


class PlainOption(TyperOption):
    """An option whose value is named by its metavar (a flag's by nothing)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return ""
        return self.metavar if self.metavar is not None else (self.name or "VALUE").upper()

    def _get_number_range_help_str(self) -> str | None:
        return None  # the help text says the range in words


class PlainArgument(TyperArgument):
    """An argument shown as ``NAME`` (required) or ``[NAME]...`` (optional, repeatable)."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar if self.metavar is not None else (self.name or "ARG").upper()

    def display_type_rich(self, ctx: Any) -> str | None:
        return ""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def make_metavar(self, ctx: Any, *, usage: bool = False) -> str:
        """``NAME`` in the usage line and the Arguments section, never Typer's ``{name}``."""
        if usage:
            return self._usage_display_name()
        return self.display_name_raw + ("..." if self.nargs != 1 else "")


def plain_param(param: Any) -> Any:
    if isinstance(param, TyperOption) and not isinstance(param, PlainOption):
        param.__class__ = PlainOption
    elif isinstance(param, TyperArgument) and not isinstance(param, PlainArgument):
        param.__class__ = PlainArgument
    if isinstance(param, TyperOption | TyperArgument):
        param.show_default = False  # defaults are in the help text, in one style
    return param


def format_options_by_panel(command: Any, ctx: Any, formatter: Any) -> None:
    """Arguments, then options under their panel's heading (``Options``, ``Public
    dependencies``, ``Global options``...), as plain text: the layout of Typer's rich help
    without importing rich, which alone took longer than the rest of ``--help``."""
    args: list[tuple[str, str]] = []
    panels: dict[str, list[tuple[str, str]]] = {"Options": []}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if param.param_type_name == "argument":
            args.append(record)
        else:
            panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(
                record
            )
    if args:
        with formatter.section("Arguments"):
            formatter.write_dl(args)
    for title, rows in panels.items():
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


class PlainCommand(TyperCommand):
    """A command whose ``-h/--help`` option (made on demand by click) is plain too."""

    def get_help_option(self, ctx: Any) -> Any:
        return plain_param(super().get_help_option(ctx))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_options_by_panel(self, ctx, formatter)


def make_plain(command: Any) -> None:
    """Make ``command``, its parameters and every command below it plain.

    The parameters' classes are swapped for subclasses that only change how help shows them,
    since Typer builds them itself and offers no hook for their display.
    """
    if type(command) is TyperCommand:
        command.__class__ = PlainCommand
    for param in command.params:
        plain_param(param)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            make_plain(sub)
