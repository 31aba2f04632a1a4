"""The whole graph: private bundles from S3 and the public wheels they need from a real index.

The index is pypiserver on 127.0.0.1 (``tests/lib/pypiservers.py``) serving wheels these tests
write; the bucket is the S3 test server, reached through a proxy so a test can take it away
("both servers stopped"). Installs are real pip (and uv) runs into fresh virtual environments.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pipper.bundle import read_bundle
from tests.lib.cli import CliResult, cli
from tests.lib.isolation import PipperHome
from tests.lib.proxy import MakeProxy, Proxy
from tests.lib.pypiservers import PypiServer
from tests.lib.s3servers import S3Server
from tests.lib.venvs import fresh_venv, import_version, installed_in
from tests.lib.wheels import make_bundle, make_wheel, write_pyproject_project

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_installers")]

MakeIndex = Callable[[], PypiServer]


def imports(python: Path, *modules: str) -> dict[str, str]:
    """``module.__version__`` of each module, as ``python`` imports them."""
    return {module: import_version(python, module) for module in modules}


class World:
    """A bucket behind a proxy, an index of the test's own, and the commands' common options."""

    def __init__(self, tmp_path: Path, bucket: str, proxy: Proxy, index: PypiServer) -> None:
        self.tmp = tmp_path
        self.proxy = proxy
        self.index = index
        self.repo = ["-b", bucket, "--endpoint-url", proxy.url]
        self.bundles = tmp_path / "bundles"

    def private(
        self, name: str, version: str, *, requires: Sequence[str] = (), **extra: object
    ) -> None:
        """Publish a private package whose wheel requires ``requires`` (nothing in pipper.json
        unless ``dependencies`` is given)."""
        deps = extra.pop("dependencies", ())
        assert isinstance(deps, list | tuple)
        out = self.tmp / "bundles" / f"{name}-{version}"
        make_bundle(
            out, name, version, requires=requires, dependencies=list(deps), extra_meta=extra
        )
        published = cli("publish", str(out), *self.repo)
        assert published.exit_code == 0, published.stderr

    def pipper(self, *args: str, index: bool = True) -> CliResult:
        where = ["--index-url", self.index.index_url] if index else []
        return cli(*args, *self.repo, *where)

    def stop_servers(self) -> None:
        """Take both the bucket and the index away: nothing answers on their ports."""
        self.proxy.stop()
        self.index.stop()


@pytest.fixture
def world(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    make_proxy: MakeProxy,
    make_pypi_server: MakeIndex,
) -> World:
    return World(tmp_path, bucket, make_proxy(), make_pypi_server())


def publish_app(world: World) -> None:
    """app -> lib (private, in install_requires only) and pubtop; lib -> pubdep<2; pubtop ->
    pubdep>=1. The index also holds pubdep 2.0.0, which lib's bound excludes."""
    world.index.publish("pubdep", "1.0.0")
    world.index.publish("pubdep", "1.5.0")
    world.index.publish("pubdep", "2.0.0")
    world.index.publish("pubtop", "3.0.0", requires=["pubdep>=1"])
    world.private("lib", "1.0.0", requires=["pubdep<2"])
    world.private(
        "app", "1.0.0", requires=["lib>=1", "pubtop", 'never-needed; python_version < "3"']
    )


# -- one graph, installed --------------------------------------------------------------------


def test_private_wheels_requiring_public_packages_install_and_import(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    python = fresh_venv(tmp_path / "venv")
    result = world.pipper("install", "app", "--python", str(python), "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    assert {p["name"]: p["action"] for p in data["plan"]} == {"app": "install", "lib": "install"}
    assert {p["name"]: p["version"] for p in data["public_plan"]} == {
        "pubtop": "3.0.0",
        "pubdep": "1.5.0",  # the newest that satisfies lib (<2) and pubtop (>=1) together
    }
    assert imports(python, "app", "lib", "pubtop", "pubdep") == {
        "app": "1.0.0",
        "lib": "1.0.0",
        "pubtop": "3.0.0",
        "pubdep": "1.5.0",
    }
    assert "never-needed" not in installed_in(python)  # its marker is false here


def test_a_dependency_declared_only_in_install_requires_resolves_from_the_bucket(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_app(world)
    monkeypatch.setenv("PIP_INDEX_URL", world.index.index_url)  # the index, as pip is configured
    result = world.pipper("download", "app", "-d", str(tmp_path / "v"), "--json", index=False)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    private = {p["name"]: p for p in data["packages"]}
    assert set(private) == {"app", "lib"}
    assert private["lib"]["key"] == "pipper/lib/v1-0-0.pipper"
    assert private["lib"]["required_by"] == ["app"]
    public = {p["name"]: p for p in data["public"]}
    assert set(public) == {"pubtop", "pubdep"}
    assert set(public["pubdep"]["required_by"]) == {"lib 1.0.0", "pubtop 3.0.0"}
    assert public["pubtop"]["url"].startswith(world.index.url)


def test_one_installer_call_then_installed_public_packages_are_kept(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    python = fresh_venv(tmp_path / "venv")
    first = world.pipper("--debug", "install", "app", "--python", str(python))
    assert first.exit_code == 0, first.stderr
    done = [line for line in first.stderr.splitlines() if line.startswith("Successfully installed")]
    assert len(done) == 1  # private and public wheels in one installer process
    assert all(f"{name}-" in done[0] for name in ("app", "lib", "pubtop", "pubdep"))
    assert "Installed 4 packages (2 public)" in first.stderr

    world.index.publish("pubdep", "1.9.0")  # newer, and allowed: kept anyway, as pip keeps it
    again = world.pipper("install", "app", "--python", str(python), "--json")
    assert again.exit_code == 0, again.stderr
    data = again.json()
    assert isinstance(data, dict)
    assert data["public_plan"] == []
    assert data["installer_ran"] is False
    assert installed_in(python)["pubdep"] == "1.5.0"

    upgraded = world.pipper("install", "app", "--python", str(python), "-u", "--json")
    assert upgraded.exit_code == 0, upgraded.stderr
    plan = upgraded.json()["public_plan"]
    assert [(p["name"], p["action"], p["version"]) for p in plan] == [
        ("pubdep", "upgrade", "1.9.0")
    ]
    assert installed_in(python)["pubdep"] == "1.9.0"


def test_uv_installs_the_whole_graph_as_files(world: World, tmp_path: Path) -> None:
    publish_app(world)
    python = fresh_venv(tmp_path / "venv")
    result = world.pipper("install", "app", "--python", str(python), "--installer", "uv")
    assert result.exit_code == 0, result.stderr
    assert imports(python, "app", "lib", "pubtop", "pubdep")["pubdep"] == "1.5.0"


def test_a_public_package_named_like_a_private_one_is_never_installed(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    world.index.publish("lib", "99.0.0", module="lib")  # an impostor on the public index
    spec = tmp_path / "pipper.json"
    spec.write_text(json.dumps({"dependencies": ["app"], "pypi": ["lib", "pubtop"]}))
    python = fresh_venv(tmp_path / "venv")
    result = world.pipper("install", "-i", str(spec), "--python", str(python), "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    assert "lib" not in {p["name"] for p in data["public"]}
    assert installed_in(python)["lib"] == "1.0.0"
    assert imports(python, "lib") == {"lib": "1.0.0"}


def test_private_only_keeps_the_bundles_own_dependencies(world: World, tmp_path: Path) -> None:
    publish_app(world)
    result = world.pipper("download", "app", "-d", str(tmp_path / "v"), "--json", "--private-only")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    assert [p["name"] for p in data["packages"]] == ["app"]  # lib is not in pipper.json
    assert data["public"] == []


def test_with_no_index_reachable_the_error_names_what_and_who(world: World) -> None:
    publish_app(world)
    world.index.stop()
    result = world.pipper("download", "app", "-d", str(world.tmp / "v"))
    assert result.exit_code == 6, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: no package index could be reached")
    assert "pubtop (from app 1.0.0)" in last
    assert "pubdep<2 (from lib 1.0.0)" in last


# -- vendored and offline ---------------------------------------------------------------------


def test_the_vendored_folder_installs_with_no_index_after_both_servers_stop(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    vendor = tmp_path / "vendor"
    result = world.pipper("download", "app", "-d", str(vendor), "--extract")
    assert result.exit_code == 0, result.stderr
    wheels = sorted(p.name for p in vendor.glob("*.whl"))
    assert wheels == [
        "app-1.0.0-py3-none-any.whl",
        "lib-1.0.0-py3-none-any.whl",
        "pubdep-1.5.0-py3-none-any.whl",
        "pubtop-3.0.0-py3-none-any.whl",
    ]
    world.stop_servers()
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    pip = [str(python), "-m", "pip", "install", "--no-index", "--find-links", str(vendor), "app"]
    done = subprocess.run(pip, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert imports(python, "app", "lib", "pubtop", "pubdep")["pubdep"] == "1.5.0"


def test_install_from_the_vendored_folder_needs_no_server(world: World, tmp_path: Path) -> None:
    publish_app(world)
    vendor = tmp_path / "vendor"
    assert world.pipper("download", "app", "-d", str(vendor)).exit_code == 0
    world.stop_servers()
    python = fresh_venv(tmp_path / "venv")
    result = cli("install", "--from", str(vendor), "app", "--python", str(python))
    assert result.exit_code == 0, result.stderr
    assert imports(python, "pubtop", "pubdep") == {"pubtop": "3.0.0", "pubdep": "1.5.0"}


def test_cache_warm_then_both_servers_stopped_then_install_offline(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    warmed = world.pipper("cache", "warm", "app", "--json")
    assert warmed.exit_code == 0, warmed.stderr
    data = warmed.json()
    assert isinstance(data, dict)
    assert {p["name"] for p in data["public"]} == {"pubtop", "pubdep"}
    world.stop_servers()
    python = fresh_venv(tmp_path / "venv")
    result = world.pipper("install", "app", "--offline", "--python", str(python))
    assert result.exit_code == 0, result.stderr
    assert imports(python, "app", "lib", "pubtop", "pubdep") == {
        "app": "1.0.0",
        "lib": "1.0.0",
        "pubtop": "3.0.0",
        "pubdep": "1.5.0",
    }


def test_offline_names_the_public_requirement_the_cache_cannot_satisfy(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    assert world.pipper("cache", "warm", "app").exit_code == 0
    world.private("app", "2.0.0", requires=["lib>=1", "pubtop", "pubnew"])
    world.index.publish("pubnew", "1.0.0")
    assert world.pipper("cache", "warm", "app", "--private-only").exit_code == 0
    world.stop_servers()
    result = world.pipper("download", "app", "--offline", "-d", str(tmp_path / "v"))
    assert result.exit_code == 9, result.stderr
    assert "pubnew (from app 2.0.0)" in result.stderr
    assert "without --offline" in result.stderr


def _tamper(cache: Path, filename: str, impostor: Path) -> None:
    """Replace the bytes of a cached public wheel with another valid wheel of that name."""
    records = [json.loads(p.read_text()) for p in (cache / "wheels").rglob("*.json")]
    (digest,) = [r["sha256"] for r in records if r["filename"] == filename]
    blob = cache / "blobs" / "sha256" / digest[:2] / digest
    blob.chmod(0o644)
    blob.write_bytes(impostor.read_bytes())


def test_a_tampered_public_wheel_in_the_cache_is_refused(
    world: World, tmp_path: Path, pipper_home: PipperHome
) -> None:
    publish_app(world)
    assert world.pipper("cache", "warm", "app").exit_code == 0
    evil = make_wheel(tmp_path / "evil", "pubdep", "1.5.0", module="evil_code")
    _tamper(pipper_home.cache_dir, "pubdep-1.5.0-py3-none-any.whl", evil)

    python = fresh_venv(tmp_path / "venv")
    offline = world.pipper("install", "app", "--offline", "--python", str(python))
    assert offline.exit_code == 9, offline.stderr
    assert "pubdep-1.5.0-py3-none-any.whl no longer hashes to its sha256" in offline.stderr
    assert "not in the cache: pubdep 1.5.0" in offline.stderr
    assert "pubdep" not in installed_in(python)

    online = world.pipper("install", "app", "--python", str(python))  # fetched again, checked
    assert online.exit_code == 0, online.stderr
    assert imports(python, "pubdep") == {"pubdep": "1.5.0"}  # the index's own bytes
    site = python.parent.parent / "lib"
    assert list(site.glob("python*/site-packages/evil_code")) == []


def test_bundle_records_requirements_and_warns_where_pipper_json_disagrees(
    tmp_path: Path,
) -> None:
    project = write_pyproject_project(tmp_path / "proj", dependencies=["lib>=1", "requests>=2"])
    (project / "pipper.json").write_text(json.dumps({"dependencies": ["lib", "forgotten"]}))
    result = cli("bundle", str(project), "-o", str(tmp_path / "dist"), "--no-build-isolation")
    assert result.exit_code == 0, result.stderr
    assert "pipper.json lists forgotten under dependencies, but the wheel does not" in result.stderr
    assert "the wheel requires requests, which pipper.json lists neither" in result.stderr
    (bundle,) = (tmp_path / "dist").glob("*.pipper")
    assert read_bundle(bundle).requires_dist == ("lib>=1", "requests>=2")


# -- locked ----------------------------------------------------------------------------------


def versions_in(folder: Path) -> dict[str, str]:
    """``{project: version}`` of the wheels in a folder."""
    found = {}
    for wheel in folder.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        found[name] = version
    return found


def test_install_and_download_from_a_lock_reproduce_it_after_newer_public_releases(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    lock = tmp_path / "pipper.lock"
    locked = world.pipper("lock", "app", "-o", str(lock))
    assert locked.exit_code == 0, locked.stderr
    document = json.loads(lock.read_text())
    public = {p["name"]: p for p in document["public"]}
    assert {name: p["version"] for name, p in public.items()} == {
        "pubdep": "1.5.0",
        "pubtop": "3.0.0",
    }
    assert public["pubdep"]["filename"] == "pubdep-1.5.0-py3-none-any.whl"
    assert public["pubdep"]["index_url"] == world.index.index_url
    assert public["pubdep"]["url"].startswith(world.index.url)
    assert len(public["pubdep"]["sha256"]) == 64
    assert [p["name"] for p in document["packages"]] == ["app", "lib"]

    world.index.publish("pubdep", "1.9.0")
    world.index.publish("pubtop", "3.1.0", requires=["pubdep>=1"])
    fresh = world.pipper("download", "app", "-d", str(tmp_path / "new"))
    assert fresh.exit_code == 0, fresh.stderr
    assert versions_in(tmp_path / "new") == {"pubdep": "1.9.0", "pubtop": "3.1.0"}

    empty_cache = ["--cache-dir", str(tmp_path / "empty-cache")]  # fetched from the index
    python = fresh_venv(tmp_path / "venv")
    installed = world.pipper("install", "--lock", str(lock), "--python", str(python), *empty_cache)
    assert installed.exit_code == 0, installed.stderr
    assert {k: v for k, v in installed_in(python).items() if k.startswith("pub")} == {
        "pubdep": "1.5.0",
        "pubtop": "3.0.0",
    }
    assert imports(python, "app", "lib")["lib"] == "1.0.0"

    vendor = tmp_path / "vendor"
    downloaded = world.pipper("download", "--lock", str(lock), "-d", str(vendor), *empty_cache)
    assert downloaded.exit_code == 0, downloaded.stderr
    assert versions_in(vendor) == {"pubdep": "1.5.0", "pubtop": "3.0.0"}


def test_a_locked_public_wheel_that_changed_on_the_index_is_refused(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    lock = tmp_path / "pipper.lock"
    assert world.pipper("lock", "app", "-o", str(lock)).exit_code == 0
    served = world.index.packages / "pubdep-1.5.0-py3-none-any.whl"
    served.unlink()
    world.index.publish("pubdep", "1.5.0", module="pubdep_rebuilt")  # same name, other bytes
    cache = ["--cache-dir", str(tmp_path / "empty-cache")]
    result = world.pipper("download", "--lock", str(lock), "-d", str(tmp_path / "v"), *cache)
    assert result.exit_code == 7, result.stderr
    assert "pubdep 1.5.0" in result.stderr
    assert not (tmp_path / "v" / "pubdep-1.5.0-py3-none-any.whl").exists()


def test_uv_installs_the_whole_closure_from_pylock_toml(world: World, tmp_path: Path) -> None:
    from pipper.install import find_uv

    publish_app(world)
    out = tmp_path / "locks"
    result = world.pipper("lock", "app", "-o", str(out / "pipper.lock"), "--format", "pylock")
    assert result.exit_code == 0, result.stderr
    pylock = out / "pylock.toml"
    assert sorted(p.name for p in (out / "pylock-wheels").iterdir()) == [
        "app-1.0.0-py3-none-any.whl",
        "lib-1.0.0-py3-none-any.whl",
    ]
    python = fresh_venv(tmp_path / "venv")
    uv = [str(find_uv()), "pip", "install", "--python", str(python), "-r", str(pylock)]
    done = subprocess.run(uv, capture_output=True, text=True, cwd=tmp_path)  # not the lock's dir
    assert done.returncode == 0, done.stdout + done.stderr
    assert imports(python, "app", "lib", "pubtop", "pubdep") == {
        "app": "1.0.0",
        "lib": "1.0.0",
        "pubtop": "3.0.0",
        "pubdep": "1.5.0",
    }


def test_authorized_urls_cover_the_private_graph_and_the_job_resolves_the_public_half(
    world: World, tmp_path: Path
) -> None:
    publish_app(world)
    urls = tmp_path / "urls.json"
    authorized = world.pipper("authorize", "app", "-o", str(urls), index=False)
    assert authorized.exit_code == 0, authorized.stderr
    assert len(json.loads(urls.read_text())["dependencies"]) == 2  # app and lib (install_requires)
    vendor = tmp_path / "vendor"
    job = cli("download", "-i", str(urls), "-d", str(vendor), "--index-url", world.index.index_url)
    assert job.exit_code == 0, job.stderr
    assert versions_in(vendor) == {"pubdep": "1.5.0", "pubtop": "3.0.0"}
    assert sorted(p.name for p in vendor.glob("*.pipper")) == [
        "app-v1-0-0.pipper",
        "lib-v1-0-0.pipper",
    ]


def test_an_input_file_with_only_pypi_entries_is_vendored(world: World, tmp_path: Path) -> None:
    world.index.publish("solo", "1.0.0")
    spec = tmp_path / "pipper.json"
    spec.write_text(json.dumps({"pypi": ["solo"]}))
    result = world.pipper("download", "-i", str(spec), "-d", str(tmp_path / "v"))
    assert result.exit_code == 0, result.stderr
    assert versions_in(tmp_path / "v") == {"solo": "1.0.0"}


def test_a_bundles_own_pypi_entries_are_part_of_the_graph(world: World, tmp_path: Path) -> None:
    world.index.publish("pubextra", "2.0.0")
    world.private("tool", "1.0.0", pypi=["pubextra>=2"])  # from the project's pipper.json
    result = world.pipper("download", "tool", "-d", str(tmp_path / "v"), "--json")
    assert result.exit_code == 0, result.stderr
    public = result.json()["public"]
    assert [(p["name"], p["required_by"]) for p in public] == [("pubextra", ["tool 1.0.0"])]


def test_a_bundle_written_by_the_original_is_read_for_its_wheels_requirements(
    world: World, tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    """The original records no requires_dist: the wheel inside the bundle says."""
    world.index.publish("pubdep", "1.0.0")
    world.private("lib", "1.0.0")
    wheel = make_wheel(tmp_path / "w", "old_app", "1.0.0", requires=["lib", "pubdep"])
    meta = {
        "dependencies": [],
        "name": "old_app",
        "version": "1.0.0",
        "safe_version": "v1-0-0",
        "wheel_name": wheel.name,
        "timestamp": "2026-01-28T10:00:00+00:00",
    }
    body = io.BytesIO()
    with zipfile.ZipFile(body, mode="w") as zipper:
        zipper.write(wheel, "package.whl")
        zipper.writestr("package.meta", json.dumps(meta))
    s3_server.client().put_object(
        Bucket=bucket,
        Key="pipper/old_app/v1-0-0.pipper",
        Body=body.getvalue(),
        ContentType="application/zip",
        Metadata={"package": json.dumps(meta), "name": "old_app", "version": "1.0.0"},
    )
    result = world.pipper("download", "old_app", "-d", str(tmp_path / "v"), "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    assert {p["name"] for p in data["packages"]} == {"old_app", "lib"}
    assert [p["name"] for p in data["public"]] == ["pubdep"]
