"""Start-up cost: ``pipper --version`` answers without importing Typer or any command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipper import __version__

PROBE = (
    "import sys; sys.argv = ['pipper', {flag!r}]\n"
    "from pipper.cli import main; main()\n"
    "heavy = ('typer', 'click', 'pipper.cli.commands', 'anyio')\n"
    "print(sorted(m for m in heavy if m in sys.modules))"
)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_imports_nothing_heavy(flag: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(flag=flag)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [f"pipper {__version__}", "[]"]


def test_the_app_is_still_importable_from_the_package() -> None:
    from typer import Typer
    from typer.core import TyperGroup
    from typer.main import get_command

    from pipper.cli import app

    assert isinstance(app, Typer)
    group = get_command(app)
    assert isinstance(group, TyperGroup)
    assert {"download", "install", "lock", "cache"} <= set(group.commands)
