"""Which module holds each command, and its one-line summary: the root loads a command on use.

Building every command's click object (and importing its module) cost each run about 60 ms of
the 140 ms ``pipper --help`` took, and ``pipper download`` paid the same for nineteen commands it
never runs. So, as pip's ``commands_dict`` does, the root knows its commands by name, module and
summary; ``pipper --help`` renders the summaries from here, and a command's module is imported
and turned into a click command only when it is the one asked for (``load``). A test holds each
summary to its command's docstring, and each name to the module that registers it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import typer
    from typer._click import Command


class Entry(NamedTuple):
    module: str
    """The module under ``pipper.cli`` whose import registers the command on the app."""
    summary: str
    """The first sentence of its help: what ``pipper --help`` shows beside its name."""


#: In the order ``pipper --help`` lists them: the order a user meets them.
COMMANDS: dict[str, Entry] = {
    "demo": Entry(
        "demo",
        "Publish a small demo graph to the local repository, then download it like a project "
        "would.",
    ),
    "bundle": Entry(
        "bundle", "Build the wheel of the project in DIR and write NAME-SAFE_VERSION.pipper."
    ),
    "publish": Entry(
        "publish",
        "Publish bundles; a wheel that exists is refused unless --force or --skip-existing.",
    ),
    "list": Entry("info", "The packages in the repository with their latest versions."),
    "info": Entry(
        "info",
        "Every published version of a package, newest first, and how the installed one compares.",
    ),
    "download": Entry(
        "download", "Resolve the dependency graph and download every bundle into a folder."
    ),
    "install": Entry(
        "install", "Resolve the dependency graph and install it all with one pip (or uv) call."
    ),
    "lock": Entry("lock", "Resolve the dependency graph and write it to a lock file."),
    "tree": Entry("tree", "Show the resolved dependency graph as a tree, with versions."),
    "authorize": Entry(
        "authorize",
        "Resolve the dependency graph and print a presigned download URL for every package.",
    ),
    "index": Entry(
        "index", "The repository's simple index (<prefix>/~simple/): check it, rebuild it, its URL."
    ),
    "cache": Entry("cache", "Inspect, fill, check and prune the local cache of bundles."),
    "repository": Entry(
        "repository",
        "Save, change and remove named repositories (bucket, prefix, endpoint, credentials).",
    ),
    "config": Entry(
        "config",
        "Show every setting and where it came from (option, environment, pyproject.toml, saved).",
    ),
    "completion": Entry("completion", "Print the completion script for SHELL."),
    "delete": Entry(
        "delete",
        "Delete a version for good: its bundle (and yank marker) leave the repository.",
    ),
    "prune-releases": Entry(
        "prune_releases",
        "Delete all but the newest N versions of each package; never its newest final release.",
    ),
    "yank": Entry(
        "yank",
        "Yank a version: resolution skips it unless a requirement pins it (==), nothing is "
        "deleted.",
    ),
    "unyank": Entry("yank", "Undo a yank: resolution offers the version again."),
}


def import_all() -> None:
    """Import every command's module, so each is registered on the app (tests, completion)."""
    for entry in COMMANDS.values():
        importlib.import_module(f"pipper.cli.{entry.module}")


def load(app: typer.Typer, name: str) -> Command | None:
    """The click command ``name``, built from what its module registered on ``app``."""
    import typer.main

    entry = COMMANDS.get(name)
    if entry is None:
        return None
    importlib.import_module(f"pipper.cli.{entry.module}")
    for info in app.registered_commands:
        assert info.callback is not None
        if (info.name or typer.main.get_command_name(info.callback.__name__)) == name:
            return typer.main.get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
    for group in app.registered_groups:
        if group.name == name:
            return typer.main.get_group_from_info(
                group,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
    return None
