"""``pipper install`` refusals and installer failures, through the CLI with no real install.

Real installs with pip and uv into real environments are in ``tests/system/test_install.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipper.errors import InstallError
from pipper.install import find_uv
from tests.lib.cli import cli
from tests.lib.wheels import make_bundle, make_vendor

pytestmark = pytest.mark.usefixtures("isolated_installers")


@pytest.fixture
def vendor(tmp_path: Path) -> Path:
    return make_vendor(tmp_path / "vendor")


def test_missing_uv_is_a_clear_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    with pytest.raises(Exception, match="uv is not on PATH"):
        find_uv()
    make_bundle(tmp_path / "vendor", "x", "1.0.0")
    result = cli("install", "--from", str(tmp_path / "vendor"), "x", "--installer", "uv")
    assert result.exit_code == 2
    assert "uv is not on PATH" in result.stderr


@pytest.fixture
def failing_python(tmp_path: Path) -> Path:
    """An interpreter whose pip fails with exit code 2 (pipper's own code for bad usage)."""
    script = tmp_path / "fake-python"
    script.write_text(
        "#!/bin/sh\n"
        # pipper's probe (-c): no packages, pip present, markers and tags not looked at here
        'if [ "$1" = "-c" ]; then echo \'{"packages": {}, "pip": true, "markers": {}, '
        '"target": {}}\'; exit 0; fi\n'
        'echo "Collecting things"\n'
        'echo "ERROR: the disk is full"\n'
        "exit 2\n"
    )
    script.chmod(0o755)
    return script


def test_installer_exit_code_is_named_not_passed_on(vendor: Path, failing_python: Path) -> None:
    result = cli("install", "--from", str(vendor), "x", "--python", str(failing_python))
    assert result.exit_code == InstallError.exit_code != 2
    assert "Collecting things" in result.stderr
    assert "error: pip install failed with exit code 2: the disk is full" in result.stderr

    as_json = cli("install", "--from", str(vendor), "x", "--python", str(failing_python), "--json")
    assert as_json.exit_code == InstallError.exit_code
    data = as_json.json()
    assert isinstance(data, dict)
    assert (data["installer_ran"], data["installer_exit_code"]) == (True, 2)
    assert data["error"] == "pip install failed with exit code 2: the disk is full"
    assert [p["action"] for p in data["plan"]] == ["install", "install"]


def test_user_and_target_together_are_refused(tmp_path: Path, vendor: Path) -> None:
    result = cli("install", "--from", str(vendor), "x", "--user", "-t", str(tmp_path / "t"))
    assert result.exit_code == 2
    assert "--user and --target" in result.stderr


def test_missing_bundle_file_is_named(tmp_path: Path) -> None:
    result = cli("install", str(tmp_path / "nope-v1-0-0.pipper"))
    assert result.exit_code == 2
    assert "no such bundle file" in result.stderr
