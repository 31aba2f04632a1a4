"""Building wheels and bundles with real pip, and installing a written wheel with real pip."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import setuptools
from packaging.version import Version

from pipper.build import build_wheel, bundle_project
from pipper.bundle import read_bundle
from pipper.errors import BuildError, BundleError
from tests.lib.cli import cli
from tests.lib.wheels import make_wheel, write_pyproject_project


def _can_build_without_isolation() -> bool:
    """setuptools builds wheels offline only with ``wheel`` installed or setuptools >= 70.1."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    return Version(setuptools.__version__) >= Version("70.1")


needs_offline_build = pytest.mark.skipif(
    not _can_build_without_isolation(),
    reason="setuptools cannot build a wheel without build isolation here: install `wheel` "
    "or setuptools>=70.1 (the project's test extras)",
)


def test_make_wheel_is_pip_installable(tmp_path: Path) -> None:
    path = make_wheel(tmp_path / "w", "alpha-pkg", "1.0.0", module="alpha")
    target = tmp_path / "target"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(path)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    assert (target / "alpha" / "__init__.py").read_text() == '__version__ = "1.0.0"\n'
    assert (target / "alpha_pkg-1.0.0.dist-info" / "METADATA").is_file()


@needs_offline_build
def test_build_wheel_pyproject_ignores_stale_wheels(tmp_path: Path) -> None:
    project = write_pyproject_project(tmp_path / "proj")
    stale = make_wheel(project / "dist", "tiny_proj", "0.1.0")
    built = build_wheel(project, project / "dist", isolation=False)
    assert built == project / "dist" / "tiny_proj-0.2.0-py3-none-any.whl"
    assert stale.exists()
    with zipfile.ZipFile(built) as zf:
        assert zf.read("tiny_proj/__init__.py") == b'__version__ = "0.2.0"\n'


@needs_offline_build
def test_build_wheel_setup_py(tmp_path: Path) -> None:
    project = tmp_path / "legacy"
    (project / "legacy_mod").mkdir(parents=True)
    (project / "legacy_mod" / "__init__.py").write_text("")
    (project / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='legacy-proj', version='3.0', packages=['legacy_mod'])\n"
    )
    built = build_wheel(project, tmp_path / "out", isolation=False)
    assert built == tmp_path / "out" / "legacy_proj-3.0-py3-none-any.whl"
    assert built.is_file()


@needs_offline_build
def test_bundle_project(tmp_path: Path) -> None:
    project = write_pyproject_project(tmp_path / "proj")
    (project / "pipper.json").write_text(json.dumps({"dependencies": ["alpha_pkg:>=1"]}))
    out = tmp_path / "new" / "out"
    path = bundle_project(project, out, isolation=False)
    assert path == out / "tiny_proj-v0-2-0.pipper"
    meta = read_bundle(path)
    assert (meta.name, meta.version) == ("tiny_proj", "0.2.0")
    assert meta.dependencies == ("alpha_pkg:>=1",)
    assert sorted(p.name for p in out.iterdir()) == [path.name]


def test_build_wheel_failure_shows_pips_output(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "setup.py").write_text("raise SystemExit('the-setup-py-marker exploded')\n")
    with pytest.raises(BuildError, match="the-setup-py-marker exploded") as failed:
        build_wheel(project, tmp_path / "out", isolation=False)
    assert not isinstance(failed.value, BundleError)  # the project's fault, not a bundle's
    assert not list((tmp_path).glob("out/*.whl"))


@needs_offline_build
def test_bundle_builds_with_the_interpreter_python_names(tmp_path: Path) -> None:
    """``--python`` runs that interpreter's pip: a compiled project gets its tags."""
    import sys

    project = write_pyproject_project(tmp_path / "proj")
    calls = tmp_path / "calls.txt"
    python = tmp_path / "python-wrapper"
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    out = tmp_path / "out"
    result = cli(
        "bundle", str(project), "-o", str(out), "--python", str(python), "--no-build-isolation"
    )
    assert result.exit_code == 0, result.stderr
    assert (out / "tiny_proj-v0-2-0.pipper").is_file()
    assert "-m pip wheel" in calls.read_text()


def test_bundle_wheel_bundles_prebuilt_wheels_one_per_wheel(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    tags = ["py3-none-any", "cp311-cp311-manylinux_2_17_x86_64", "cp312-abi3-macosx_11_0_arm64"]
    wheels = [make_wheel(wheelhouse, "fast_lib", "2.0.0", tag=tag) for tag in tags]
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pipper.json").write_text(json.dumps({"dependencies": ["alpha_pkg"]}))
    out = tmp_path / "out"
    # As a shell expands 'pipper bundle DIR --wheel wheelhouse/*.whl'.
    result = cli("bundle", str(project), "-o", str(out), "--wheel", *map(str, wheels))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "fast_lib-v2-0-0.pipper",
            "fast_lib-v2-0-0.cp311-cp311-manylinux_2_17_x86_64.pipper",
            "fast_lib-v2-0-0.cp312-abi3-macosx_11_0_arm64.pipper",
        ]
    )
    for path in out.iterdir():
        meta = read_bundle(path)
        assert meta.dependencies == ("alpha_pkg",)
        assert meta.wheel_name in {w.name for w in wheels}
    twice = cli("bundle", "-o", str(out), "--wheel", str(wheels[0]), "--wheel", str(wheels[0]))
    assert twice.exit_code == 2
    assert "are the same wheel" in twice.stderr


def test_bundle_wheel_refuses_a_file_that_is_no_wheel(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-wheel.whl"
    bogus.write_bytes(b"nope")
    result = cli("bundle", "-o", str(tmp_path / "out"), "--wheel", str(bogus))
    assert result.exit_code != 0
    assert "not a valid wheel file name" in result.stderr
    assert "Traceback" not in result.stderr
