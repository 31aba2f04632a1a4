"""``pipper install`` hands the installer each wheel at a stable path in the cache.

uv keeps its own cache of unpacked wheels, keyed by a local wheel's path and change time; a
wheel pipper extracted into a new temporary folder on every run was unpacked again by uv every
run. These tests run real pip and uv, and check what they were handed: the same files from run
to run, still the bundle's own bytes, and nothing a link or an edit put in the cache.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipper.install import find_uv
from tests.lib.cli import REPO_ROOT, Graph, cli, publish_graph
from tests.lib.isolation import PipperHome

GRAPH: Graph = {"app": {"1.0.0": ["lib"]}, "lib": {"1.0.0": []}}

pytestmark = pytest.mark.usefixtures("isolated_installers")


@pytest.fixture
def pipper_cache(pipper_home: PipperHome) -> Path:
    return pipper_home.cache_dir


@pytest.fixture
def repo(tmp_path: Path) -> list[str]:
    publish_graph(tmp_path, ["-b", str(tmp_path / "repo")], GRAPH, sizes={"lib": 30_000})
    return ["-b", str(tmp_path / "repo")]


def extracted(cache: Path) -> dict[str, Path]:
    """The extracted wheels of ``cache`` by file name."""
    return {p.name: p for p in (cache / "extracted").glob("*/*.whl")}


def handed(stderr: str) -> list[str]:
    """The wheel paths in the installer command a ``-vv`` run logs."""
    (command,) = [line for line in stderr.splitlines() if " pip install " in line]
    return sorted(re.findall(r" (/\S+\.whl)", command))


def needs_uv() -> None:
    try:
        find_uv()
    except Exception:
        pytest.skip("uv is not installed")


def test_a_warm_install_hands_uv_the_same_wheels_so_uv_unpacks_nothing_again(
    tmp_path: Path, repo: list[str], pipper_cache: Path
) -> None:
    needs_uv()
    runs = []
    for n in range(2):
        target = tmp_path / f"target-{n}"
        result = cli("-vv", "install", "app", "--installer", "uv", "-t", str(target), *repo)
        assert result.exit_code == 0, result.stderr
        assert sorted(p.name for p in target.glob("*.dist-info")) == [
            "app-1.0.0.dist-info",
            "lib-1.0.0.dist-info",
        ]
        runs.append(result.stderr)
    assert (
        handed(runs[0])
        == handed(runs[1])
        == sorted(str(p) for p in extracted(pipper_cache).values())
    )
    assert "Prepared 2 packages" in runs[0]  # uv unpacked them once...
    assert "Prepared" not in runs[1]  # ... and took its unpacked copies the second time


def test_an_extracted_wheel_edited_in_place_is_never_installed(
    tmp_path: Path, repo: list[str], pipper_cache: Path
) -> None:
    first = cli("install", "app", "-t", str(tmp_path / "t1"), *repo)
    assert first.exit_code == 0, first.stderr
    wheel = extracted(pipper_cache)["lib-1.0.0-py3-none-any.whl"]
    good = wheel.read_bytes()
    os.chmod(wheel, 0o644)
    with zipfile.ZipFile(wheel, "a") as zf:  # still a valid wheel, with a file of someone's own
        zf.writestr("lib/planted.py", "raise SystemExit('planted')\n")
    os.chmod(wheel, 0o444)
    again = cli("install", "app", "-t", str(tmp_path / "t2"), *repo)
    assert again.exit_code == 0, again.stderr
    assert not (tmp_path / "t2" / "lib" / "planted.py").exists()
    assert (tmp_path / "t2" / "lib" / "__init__.py").is_file()
    assert wheel.read_bytes() == good  # extracted again from the rehashed bundle


@pytest.mark.parametrize("plant", ["link", "folder"])
def test_a_link_planted_where_a_wheel_belongs_is_never_followed(
    tmp_path: Path, repo: list[str], pipper_cache: Path, plant: str
) -> None:
    first = cli("install", "app", "-t", str(tmp_path / "t1"), *repo)
    assert first.exit_code == 0, first.stderr
    wheel = extracted(pipper_cache)["lib-1.0.0-py3-none-any.whl"]
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.whl").write_bytes(b"precious")
    os.chmod(wheel, 0o644)
    wheel.unlink()
    if plant == "link":
        wheel.symlink_to(victim / "precious.whl")
    else:
        wheel.parent.rmdir()
        wheel.parent.symlink_to(victim, target_is_directory=True)
    again = cli("install", "app", "-t", str(tmp_path / "t2"), *repo)
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "t2" / "lib" / "__init__.py").is_file()
    assert [p.name for p in victim.iterdir()] == ["precious.whl"]
    assert (victim / "precious.whl").read_bytes() == b"precious"
    assert stat.S_ISREG(os.lstat(wheel).st_mode) and not wheel.parent.is_symlink()


def test_cache_commands_know_the_extracted_wheels(
    tmp_path: Path, repo: list[str], pipper_cache: Path
) -> None:
    assert cli("install", "app", "-t", str(tmp_path / "t"), *repo).exit_code == 0
    info = cli("cache", "info", "--json")
    assert info.exit_code == 0, info.stderr
    assert info.json()["extracted_wheels"]["entries"] == 2
    assert "Extracted wheels (for pip and uv): 2" in cli("cache", "info").stdout
    verify = cli("cache", "verify")
    assert verify.exit_code == 0, verify.stderr
    assert "All 2 cache entries and 2 extracted wheels are intact" in verify.stderr
    wheel = extracted(pipper_cache)["lib-1.0.0-py3-none-any.whl"]
    os.chmod(wheel, 0o644)
    wheel.write_bytes(wheel.read_bytes()[:-10])  # cut short
    verify = cli("cache", "verify")
    assert verify.exit_code == 1
    assert f"damaged: extracted wheel {wheel.parent.name}/{wheel.name}: removed" in verify.stderr
    assert not wheel.exists()
    pruned = cli("cache", "prune", "--all")
    assert pruned.exit_code == 0, pruned.stderr
    assert "1 extracted wheels" in pruned.stderr
    assert extracted(pipper_cache) == {}


def test_a_run_refuses_a_cache_whose_extracted_folder_is_a_link(
    tmp_path: Path, repo: list[str], pipper_cache: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (pipper_cache / "extracted").symlink_to(victim, target_is_directory=True)
    result = cli("install", "app", "-t", str(tmp_path / "t"), *repo)
    assert result.exit_code == 1
    assert "symbolic link" in result.stderr and str(pipper_cache / "extracted") in result.stderr
    assert list(victim.iterdir()) == []


def _in_own_mounts(script: str, *args: str) -> list[str]:
    return ["unshare", "-rm", "sh", "-c", f'{script} && exec "$@"', "sh", *args]


def test_a_read_only_cache_still_installs(
    tmp_path: Path, repo: list[str], pipper_cache: Path
) -> None:
    """The wheels then go to a temporary folder, as they did before the cache held them."""
    probe = subprocess.run(
        _in_own_mounts(f"mount -t tmpfs tmpfs {tmp_path / 'repo'}", "true"), capture_output=True
    )
    if shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip("this machine lets no process mount a read-only view (unshare -rm)")
    assert cli("cache", "warm", "app", *repo).exit_code == 0
    cache = pipper_cache
    ro = f"mount --bind {cache} {cache} && mount -o remount,ro,bind {cache} {cache}"
    target = tmp_path / "t"
    command = [sys.executable, "-m", "pipper", "install", "app", "-t", str(target), *repo]
    result = subprocess.run(
        _in_own_mounts(ro, *command),
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (target / "lib" / "__init__.py").is_file()
    assert extracted(pipper_cache) == {}
