"""The command registry: the root loads one command per run, and says the same as if it had
loaded them all (names, order, summaries, "did you mean")."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import typer.main
from typer._click.utils import make_default_short_help

import pipper.cli
from pipper.cli.registry import COMMANDS


def _root() -> typer.core.TyperGroup:
    from pipper.cli import app

    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    return root


def test_every_registered_command_is_in_the_registry_and_back() -> None:
    assert set(_root().commands) == set(COMMANDS)


def test_every_module_that_registers_a_command_is_in_the_registry() -> None:
    """A command module left out of the table would never be imported, so never registered."""
    folder = Path(pipper.cli.__file__).parent
    registering = {
        path.stem
        for path in folder.glob("*.py")
        if re.search(r"^@app\.command|^app\.add_typer\(", path.read_text(), re.MULTILINE)
    }
    assert registering
    assert registering == {entry.module for entry in COMMANDS.values()}


def test_each_summary_is_the_first_sentence_of_its_command_s_help() -> None:
    root = _root()
    for name, entry in COMMANDS.items():
        command = root.commands[name]
        assert make_default_short_help(command.help or "", 10**6) == entry.summary, name


def test_each_entry_names_the_module_that_registers_the_command() -> None:
    root = _root()
    for name, entry in COMMANDS.items():
        command = root.commands[name]
        callbacks = [command.callback] if command.callback else []
        callbacks += [c.callback for c in getattr(command, "commands", {}).values() if c.callback]
        assert callbacks, name
        assert {c.__module__ for c in callbacks} == {f"pipper.cli.{entry.module}"}, name


PROBE = (
    "import sys; sys.argv = ['pipper', *{args!r}]\n"
    "import pipper.cli as cli\n"
    "cli._exit = lambda code: None\n"
    "cli.main()\n"
    "mods = ('download', 'install', 'cache', 'lock', 'publish', 'authorize', 'tree')\n"
    "import json\n"
    "loaded = sorted(m for m in mods if 'pipper.cli.' + m in sys.modules)\n"
    "print(json.dumps(loaded), file=sys.stderr)"
)


def _loaded(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


def test_help_loads_no_command_and_a_command_loads_only_itself() -> None:
    assert _loaded("--help") == []
    assert _loaded("download", "--help") == ["download"]
    assert _loaded("cache", "dir") == ["cache"]


def _help(*, load_all: bool) -> str:
    code = (
        "import sys; sys.argv = ['pipper', '--help']\n"
        + ("import pipper.cli.commands\n" if load_all else "")
        + "from pipper.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "100", "PATH": ""},
    )
    return done.stdout


def test_the_lazy_help_is_the_help_of_the_whole_tree() -> None:
    lazy = _help(load_all=False)
    assert lazy == _help(load_all=True)
    assert "download        Resolve the dependency graph" in lazy


def test_a_typo_is_answered_from_commands_not_loaded() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipper", "prune-relases"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "Did you mean 'prune-releases'?" in done.stderr


def test_a_command_loaded_on_use_takes_the_global_options_after_its_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipper", "config", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Global options:" in done.stdout
    assert "-q, --quiet" in done.stdout
