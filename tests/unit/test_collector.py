"""The collector policy: the ``pipper`` script freezes what lives as long as its process, and a
process that only imports pipper keeps Python's own collection."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pipper import collector


@pytest.fixture
def restored() -> Iterator[None]:
    """Whatever a test does to this process's collector is undone after it."""
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    yield
    collector._owned = False
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()


def test_a_process_pipper_does_not_own_keeps_its_collection(restored: None) -> None:
    frozen = gc.get_freeze_count()
    with collector.long_lived():
        assert gc.isenabled()
        made: list[list[int]] = [[] for _ in range(100)]
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    assert made


def test_what_is_made_while_long_lived_is_frozen_and_collection_resumes(restored: None) -> None:
    collector.take_over()
    assert gc.get_threshold() == collector.THRESHOLDS and gc.isenabled()
    frozen = gc.get_freeze_count()
    with collector.long_lived():
        assert not gc.isenabled()  # no collection while the client is made
        made: list[list[int]] = [[] for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + len(made)


def test_collection_resumes_when_the_long_lived_work_fails(restored: None) -> None:
    collector.take_over()
    with pytest.raises(RuntimeError), collector.long_lived():
        raise RuntimeError("the client could not be made")
    assert gc.isenabled()


def test_the_script_freezes_its_start_up() -> None:
    """``pipper.cli.main`` itself, in a fresh interpreter: after a command, the start-up's
    objects are frozen and the collector runs at pipper's thresholds."""
    code = (
        "import gc, sys, pipper.cli as cli\n"
        "def report(code): print(gc.get_freeze_count(), *gc.get_threshold(), gc.isenabled())\n"
        "cli._exit = report\n"
        "sys.argv = ['pipper', '--help']\n"
        "cli.main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, *thresholds, enabled = done.stdout.split()[-5:]
    assert int(count) > 10_000  # typer's and pipper's modules, at least
    assert tuple(map(int, thresholds)) == collector.THRESHOLDS
    assert enabled == "True"
