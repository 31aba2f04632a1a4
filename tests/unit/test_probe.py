"""Asking another interpreter: one process per interpreter and command, and what it holds.

An install with ``--python`` asked the interpreter four times (its packages, its markers, its
tags, its pip), each a new process of 30-170 ms; now one process answers all of it, and the
packages are read from the ``.dist-info`` folder names where those say.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pipper.install import environment
from pipper.install.environment import (
    interpreter_has_pip,
    marker_environment,
    probe_interpreter,
)
from pipper.platforms import running_target, target_for


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """This interpreter behind a script that notes every process started through it."""
    monkeypatch.setattr(environment, "_known", {})
    log = tmp_path / "started.log"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho started >> {log}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return python, log


def _started(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_markers_tags_and_pip_of_an_interpreter_take_one_process(
    counted: tuple[Path, Path],
) -> None:
    python, log = counted
    markers = marker_environment(python)
    assert markers["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert target_for(python).tags == running_target().tags
    assert interpreter_has_pip(python) is True
    assert _started(log) == 1


def test_the_packages_probe_answers_the_rest_too(counted: tuple[Path, Path]) -> None:
    python, log = counted
    packages, has_pip = probe_interpreter(python)
    assert "pytest" in packages and has_pip
    marker_environment(python)
    target_for(python)
    assert _started(log) == 1
    probe_interpreter(python)  # what is installed can change: asked each time
    assert _started(log) == 2


def test_an_interpreter_made_again_at_the_same_path_is_asked_again(
    counted: tuple[Path, Path],
) -> None:
    python, log = counted
    marker_environment(python)
    text = python.read_text()
    python.unlink()
    python.write_text(text)  # another file now (a virtual environment made again)
    python.chmod(0o755)
    marker_environment(python)
    assert _started(log) == 2


def _dist_info(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_folder_names_and_metadata_give_the_same_packages(
    counted: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python, _ = counted
    site = tmp_path / "site"
    _dist_info(site, "first_pkg", "1.2.3")
    _dist_info(site, "pytest", "0.0.1")  # later on the path than the real one: not it
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*sys.path[1:], str(site)]))
    named, _ = probe_interpreter(python)
    assert named["first_pkg"] == "1.2.3"
    assert named["pytest"] != "0.0.1"
    old = site / "legacy_pkg.egg-info"  # a folder name that says no version: METADATA is read
    old.mkdir()
    (old / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy-pkg\nVersion: 4.5\n")
    read, _ = probe_interpreter(python)
    assert read["legacy-pkg"] == "4.5"
    assert read["first_pkg"] == "1.2.3" and read["pytest"] == named["pytest"]


def test_a_zip_on_the_path_is_read_by_importlib_metadata(
    counted: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    python, _ = counted
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_pkg-3.0.dist-info/METADATA", "Name: zipped-pkg\nVersion: 3.0\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*sys.path[1:], str(archive)]))
    packages, _ = probe_interpreter(python)
    assert packages["zipped-pkg"] == "3.0" and "pytest" in packages
