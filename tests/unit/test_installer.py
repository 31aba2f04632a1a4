"""The install plan and its pieces, with no installer run: plan, file names, environments."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from pipper.install import LocalBundles, inspect_environment, plan
from pipper.keys import parse_bundle_filename
from pipper.models import Candidate, Package
from tests.lib.wheels import make_bundle, make_wheel


def _package(name: str, version: str) -> Package:
    candidate = Candidate(name=name, version=version, key=f"p/{name}/x.pipper", size=1, etag="e")
    return Package(candidate, "", None, "installed", None, (), (None,))


def test_plan_compares_with_what_is_installed() -> None:
    packages = {
        "new": _package("new", "1.0"),
        "up": _package("up", "2.0"),
        "down": _package("down", "1.0"),
        "same": _package("same", "1.0.0"),
    }
    steps = plan(packages, {"up": "1.9", "down": "1.1", "same": "1.0", "other": "3"})
    assert {s.name: (s.action, s.installed) for s in steps} == {
        "new": ("install", None),
        "up": ("upgrade", "1.9"),
        "down": ("downgrade", "1.1"),
        "same": ("keep", "1.0"),
    }


def test_vendor_file_names_split_into_name_and_version() -> None:
    assert parse_bundle_filename("alpha-pkg-v1-2-3.pipper") == ("alpha-pkg", "1.2.3")
    assert parse_bundle_filename("x-v2-v1-0-0__pre_rc1.pipper") == ("x-v2", "1.0.0-rc1")
    assert parse_bundle_filename("notes.pipper") is None
    assert parse_bundle_filename("x-v1-0-0.zip") is None


def test_target_is_inspected_on_its_own(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()
    wheel = make_wheel(tmp_path / "w", "Some_Pkg", "1.2.0")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    found = inspect_environment(None, target)
    assert found == {"some-pkg": "1.2.0"}
    assert "pytest" in inspect_environment(None, None)  # the running interpreter's own


def test_local_bundles_prefer_a_named_file_over_the_folder(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    make_bundle(vendor, "x", "1.0.0")
    make_bundle(vendor, "x", "2.0.0")
    elsewhere = make_bundle(tmp_path / "elsewhere", "x", "2.0.0")
    bundles = LocalBundles()
    pin = bundles.add_file(elsewhere)
    bundles.add_folder(vendor)
    assert str(pin) == "x==2.0.0"
    assert [c.version for c in bundles.versions("x")] == ["1.0.0", "2.0.0"]
    assert bundles.path(bundles.versions("x")[1]) == elsewhere


def test_the_working_directory_is_not_part_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stray = tmp_path / "stray_pkg-9.9.dist-info"
    stray.mkdir()
    (stray / "METADATA").write_text("Metadata-Version: 2.1\nName: stray_pkg\nVersion: 9.9\n")
    monkeypatch.chdir(tmp_path)
    assert "stray-pkg" not in inspect_environment(Path(sys.executable), None)
    assert "stray-pkg" not in inspect_environment(None, None)


def test_vendored_copies_on_sys_path_are_no_installs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setuptools puts ``setuptools/_vendor`` on sys.path when imported: its dist-infos are not
    installed packages (they made pipper warn "installed twice")."""
    vendored = tmp_path / "setuptools" / "_vendor"
    (vendored / "zz_vendored_only-1.0.dist-info").mkdir(parents=True)
    (vendored / "zz_vendored_only-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: zz-vendored-only\nVersion: 1.0\n"
    )
    monkeypatch.syspath_prepend(str(vendored))
    assert "zz-vendored-only" not in inspect_environment(None, None)
