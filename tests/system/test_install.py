"""``pipper install`` with real pip (and uv) into real virtual environments and folders.

The plan and its pieces are in ``tests/unit/test_installer.py``; refusals and installer
failures that need no real install are in ``tests/cli/test_install.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipper.errors import InstallError
from pipper.install import find_uv, inspect_environment
from tests.lib.cli import Graph, cli, pipper, publish_graph
from tests.lib.proxy import MakeProxy
from tests.lib.venvs import fresh_venv, import_version, installed_in
from tests.lib.wheels import make_bundle, make_vendor, make_wheel

ALPHA_GRAPH: Graph = {
    "alpha-pkg": {"1.0.0": ["beta:>=1", "gamma"]},
    "beta": {"1.0.0": ["gamma"], "2.0.0": ["gamma"]},
    "gamma": {"1.0.0": []},
}
APP_GRAPH: Graph = {
    "app": {"1.0.0": ["lib", "base"], "2.0.0": ["lib", "base"]},
    "lib": {"1.0.0": [], "2.0.0": []},
    "base": {"1.0.0": []},
}


pytestmark = pytest.mark.usefixtures("isolated_installers")


@pytest.fixture(scope="module")
def venv_with_pip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment with its own pip per module: creating one takes seconds."""
    folder = tmp_path_factory.mktemp("venv-with-pip")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    return folder / "bin" / "python"


def dist_infos(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.dist-info"))


def snapshot(folder: Path) -> dict[str, int]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def actions(data: object) -> dict[str, str]:
    assert isinstance(data, dict)
    return {step["name"]: step["action"] for step in data["plan"]}


def sources(data: object) -> dict[str, str]:
    assert isinstance(data, dict)
    return {step["name"]: step["source"] for step in data["plan"]}


@pytest.fixture
def s3_repo(s3_env: dict[str, str], bucket: str) -> list[str]:
    return ["-b", bucket]


@pytest.fixture
def local_repo(tmp_path: Path) -> list[str]:
    return ["-b", str(tmp_path / "repo")]


# -- real installs -------------------------------------------------------------------------------


@pytest.mark.slow
def test_graph_naming_each_other_installs_and_imports(
    tmp_path: Path, s3_repo: list[str], venv_with_pip: Path
) -> None:
    """The case the original fails: alpha's install_requires names private beta and gamma."""
    publish_graph(tmp_path, s3_repo, ALPHA_GRAPH)
    result = cli("install", "alpha-pkg", "--python", str(venv_with_pip), "--json", *s3_repo)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert actions(data) == {"alpha_pkg": "install", "beta": "install", "gamma": "install"}
    assert data["installer_ran"] is True
    assert data["installer_exit_code"] == 0
    assert import_version(venv_with_pip, "alpha_pkg") == "1.0.0"
    assert import_version(venv_with_pip, "beta") == "2.0.0"
    assert import_version(venv_with_pip, "gamma") == "1.0.0"


@pytest.mark.slow
def test_target_holds_everything_and_ignores_pippers_environment(
    tmp_path: Path, local_repo: list[str]
) -> None:
    # pipper's own environment has typer; a private "typer" 0.0.1 is still new to the folder.
    publish_graph(tmp_path, local_repo, {"tool": {"1.0.0": ["typer"]}, "typer": {"0.0.1": []}})
    target = tmp_path / "target"
    result = cli("install", "tool", "--target", str(target), "--json", *local_repo)
    assert result.exit_code == 0, result.stderr
    assert actions(result.json()) == {"tool": "install", "typer": "install"}
    assert dist_infos(target) == ["tool-1.0.0.dist-info", "typer-0.0.1.dist-info"]
    assert (target / "typer" / "__init__.py").read_text().strip() == '__version__ = "0.0.1"'

    before = snapshot(target)
    again = cli("install", "tool", "--target", str(target), "--json", *local_repo)
    assert again.exit_code == 0, again.stderr
    assert actions(again.json()) == {"tool": "keep", "typer": "keep"}
    assert again.json()["installer_ran"] is False
    assert again.json()["installer_exit_code"] is None
    assert snapshot(target) == before


@pytest.mark.slow
def test_keep_upgrade_and_downgrade(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    publish_graph(tmp_path, ["-b", bucket], APP_GRAPH)
    python = fresh_venv(tmp_path / "venv")
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url]

    first = cli("install", "app:1.0.0", "lib:1.0.0", "--python", str(python), *repo)
    assert first.exit_code == 0, first.stderr
    assert "Installed 3 packages" in first.stderr
    assert installed_in(python) == {"app": "1.0.0", "lib": "1.0.0", "base": "1.0.0"}

    # Installed versions satisfy: kept, and with a cold cache no body is fetched at all.
    proxy.reset()
    cold = ["--cache-dir", str(tmp_path / "cold-cache")]
    kept = cli("install", "app", "--python", str(python), "--json", *cold, *repo)
    assert kept.exit_code == 0, kept.stderr
    assert actions(kept.json()) == {"app": "keep", "lib": "keep", "base": "keep"}
    assert set(sources(kept.json()).values()) == {"installed"}
    assert proxy.count("get") == 0
    assert kept.json()["installer_ran"] is False

    # --upgrade: the newest allowed; base has nothing newer and is still not downloaded.
    proxy.reset()
    cold = ["--cache-dir", str(tmp_path / "cold-cache-2")]
    up = cli("install", "app", "-u", "--python", str(python), "--json", *cold, *repo)
    assert up.exit_code == 0, up.stderr
    assert actions(up.json()) == {"app": "upgrade", "lib": "upgrade", "base": "keep"}
    assert sources(up.json())["base"] == "installed"
    fetched = sorted(r.path for r in proxy.requests if r.kind == "get")
    assert len(fetched) == 2
    assert not any("/base/" in path for path in fetched)
    assert installed_in(python) == {"app": "2.0.0", "lib": "2.0.0", "base": "1.0.0"}

    # An explicit older constraint downgrades.
    down = cli("install", "lib:1.0.0", "--python", str(python), *repo)
    assert down.exit_code == 0, down.stderr
    assert "(1 downgraded)" in down.stderr
    assert import_version(python, "lib") == "1.0.0"
    assert installed_in(python) == {"app": "2.0.0", "lib": "1.0.0", "base": "1.0.0"}


@pytest.mark.slow
def test_target_upgrade_keeps_the_folder_clean(tmp_path: Path, s3_repo: list[str]) -> None:
    """pip ignores what a --target folder holds: kept packages go in again and the old
    version's files leave."""
    publish_graph(tmp_path, s3_repo, APP_GRAPH)
    target = tmp_path / "target"
    first = cli("install", "app:1.0.0", "--target", str(target), *s3_repo)
    assert first.exit_code == 0, first.stderr
    cold = ["--cache-dir", str(tmp_path / "cold-cache")]
    up = cli("install", "app:2.0.0", "--target", str(target), "--json", *cold, *s3_repo)
    assert up.exit_code == 0, up.stderr
    assert actions(up.json()) == {"app": "upgrade", "lib": "keep", "base": "keep"}
    assert dist_infos(target) == [
        "app-2.0.0.dist-info",
        "base-1.0.0.dist-info",
        "lib-2.0.0.dist-info",
    ]
    assert (target / "app" / "__init__.py").read_text().strip() == '__version__ = "2.0.0"'


@pytest.mark.slow
def test_dry_run_changes_nothing(tmp_path: Path, local_repo: list[str]) -> None:
    publish_graph(tmp_path, local_repo, APP_GRAPH)
    target = tmp_path / "target"
    nothing = cli("install", "app", "--target", str(target), "--dry-run", *local_repo)
    assert nothing.exit_code == 0, nothing.stderr
    assert "install    app 2.0.0" in nothing.stdout
    assert not target.exists()

    assert cli("install", "app:1.0.0", "--target", str(target), *local_repo).exit_code == 0
    before = snapshot(target)
    dry = cli("install", "app", "-u", "--target", str(target), "--dry-run", *local_repo)
    assert dry.exit_code == 0, dry.stderr
    assert "upgrade    app 1.0.0 -> 2.0.0" in dry.stdout
    assert "keep       base 1.0.0" in dry.stdout
    as_json = cli("install", "app", "-u", "-t", str(target), "--dry-run", "--json", *local_repo)
    assert actions(as_json.json()) == {"app": "upgrade", "lib": "keep", "base": "keep"}
    assert as_json.json()["dry_run"] is True
    assert snapshot(target) == before


@pytest.mark.slow
def test_pypi_requirement_joins_the_one_call_and_cannot_replace_a_private_package(
    tmp_path: Path, local_repo: list[str]
) -> None:
    publish_graph(tmp_path, local_repo, {"app": {"1.0.0": []}})
    links = tmp_path / "public-wheels"
    make_wheel(links, "publicdep", "1.5.0")
    make_wheel(links, "app", "9.9.9")  # a public impostor of the private package
    empty_index = tmp_path / "empty-index"
    empty_index.mkdir()
    spec = tmp_path / "pipper.json"
    spec.write_text(json.dumps({"dependencies": ["app"], "pypi": ["publicdep>=1", "app>=1"]}))
    target = tmp_path / "target"
    result = cli(
        "--debug",
        "install",
        "-i",
        str(spec),
        "--target",
        str(target),
        "--find-links",
        str(links),
        "--index-url",
        empty_index.as_uri(),
        *local_repo,
    )
    assert result.exit_code == 0, result.stderr
    assert dist_infos(target) == ["app-1.0.0.dist-info", "publicdep-1.5.0.dist-info"]
    done = [line for line in result.stderr.splitlines() if line.startswith("Successfully")]
    assert len(done) == 1  # one installer process installed both
    assert "app-1.0.0" in done[0] and "publicdep-1.5.0" in done[0]
    # 'app>=1' names a package the repository holds, so it is private: never the impostor.
    assert "Installed 2 packages (1 public) into" in result.stderr


@pytest.mark.slow
def test_uv_installs_the_graph(tmp_path: Path, local_repo: list[str]) -> None:
    try:
        find_uv()
    except Exception:
        pytest.skip("uv is not installed")
    publish_graph(tmp_path, local_repo, ALPHA_GRAPH)
    python = fresh_venv(tmp_path / "venv")
    result = cli(
        "install", "alpha-pkg", "--python", str(tmp_path / "venv"), "--installer", "uv", *local_repo
    )
    assert result.exit_code == 0, result.stderr
    assert installed_in(python) == {"alpha-pkg": "1.0.0", "beta": "2.0.0", "gamma": "1.0.0"}
    down = cli("install", "beta:1.0.0", "--python", str(python), "--installer", "uv", *local_repo)
    assert down.exit_code == 0, down.stderr
    assert import_version(python, "beta") == "1.0.0"


# -- vendored bundles ----------------------------------------------------------------------------


@pytest.fixture
def vendor(tmp_path: Path) -> Path:
    return make_vendor(tmp_path / "vendor")


def no_network_env(tmp_path: Path) -> dict[str, str]:
    """A bucket configured behind an endpoint that answers nothing: any S3 call would fail."""
    return {
        "PIPPER_BUCKET": "never-used",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }


@pytest.mark.slow
def test_bundle_file_and_vendor_folder_install_without_network(
    tmp_path: Path, vendor: Path
) -> None:
    env = no_network_env(tmp_path)
    one = tmp_path / "one"
    proc = pipper("install", str(vendor / "x-v1-0-0.pipper"), "--target", str(one), env=env)
    assert proc.returncode == 0, proc.stderr
    assert dist_infos(one) == ["x-1.0.0.dist-info", "y-2.0.0.dist-info"]

    two = tmp_path / "two"
    proc = pipper(
        "install", "--from", str(vendor), "x", "y:1.0.0", "-t", str(two), "--json", env=env
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert sources(data) == {"x": "local", "y": "local"}
    assert dist_infos(two) == ["x-1.0.0.dist-info", "y-1.0.0.dist-info"]

    missing = pipper("install", "--from", str(vendor), "z", "-t", str(tmp_path / "3"), env=env)
    assert missing.returncode == 3
    assert f"package z was not found in {vendor}" in missing.stderr


@pytest.mark.slow
def test_bundle_file_takes_what_its_folder_lacks_from_the_repository(
    tmp_path: Path, s3_repo: list[str]
) -> None:
    publish_graph(tmp_path, s3_repo, {"z": {"1.0.0": []}})
    vendor = tmp_path / "vendor"
    bundle = make_bundle(vendor, "w", "1.0.0", dependencies=["z"], requires=["z"])
    target = tmp_path / "target"
    result = cli("install", str(bundle), "-t", str(target), "--json", *s3_repo)
    assert result.exit_code == 0, result.stderr
    assert sources(result.json()) == {"w": "local", "z": "network"}
    assert dist_infos(target) == ["w-1.0.0.dist-info", "z-1.0.0.dist-info"]


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_pip_failure_shows_its_output_and_one_line(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    make_bundle(vendor, "broken", "1.0.0", requires=["nonexistent-dep"])
    # --private-only: the requirement reaches pip itself (without it pipper names it first).
    target = ["-t", str(tmp_path / "t"), "--private-only"]
    result = cli("install", "--from", str(vendor), "broken", *target)
    assert result.exit_code == InstallError.exit_code
    assert "ERROR: Could not find a version that satisfies" in result.stderr  # pip's own output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: pip install failed with exit code 1: No matching distribution")
    assert "nonexistent-dep" in last


def test_warm_then_offline_install_into_a_fresh_venv(tmp_path: Path, s3_repo: list[str]) -> None:
    graph: Graph = {"app": {"1.0.0": ["lib"]}, "lib": {"1.0.0": ["base"]}, "base": {"1.0.0": []}}
    publish_graph(tmp_path, s3_repo, graph)
    assert cli("cache", "warm", "app", *s3_repo).exit_code == 0
    python = fresh_venv(tmp_path / "venv")
    result = cli("install", "app", "--offline", "--python", str(python), *s3_repo)
    assert result.exit_code == 0, result.stderr
    assert import_version(python, "base") == "1.0.0"
    assert installed_in(python) == {"app": "1.0.0", "lib": "1.0.0", "base": "1.0.0"}


def test_user_and_target_together_are_refused(tmp_path: Path, vendor: Path) -> None:
    result = cli("install", "--from", str(vendor), "x", "--user", "-t", str(tmp_path / "t"))
    assert result.exit_code == 2
    assert "--user and --target" in result.stderr


def test_missing_bundle_file_is_named(tmp_path: Path) -> None:
    result = cli("install", str(tmp_path / "nope-v1-0-0.pipper"))
    assert result.exit_code == 2
    assert "no such bundle file" in result.stderr


def test_the_working_directory_is_not_part_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stray = tmp_path / "stray_pkg-9.9.dist-info"
    stray.mkdir()
    (stray / "METADATA").write_text("Metadata-Version: 2.1\nName: stray_pkg\nVersion: 9.9\n")
    monkeypatch.chdir(tmp_path)
    assert "stray-pkg" not in inspect_environment(Path(sys.executable), None)
    assert "stray-pkg" not in inspect_environment(None, None)
