"""The foundation's commands end to end: publish, list, info, repositories, errors, help."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.lib.cli import REPO_ROOT, cli, pipper, publish_graph
from tests.lib.isolation import PipperHome
from tests.lib.s3servers import S3Server
from tests.lib.wheels import make_bundle


@pytest.fixture
def repo(s3_env: dict[str, str], bucket: str) -> list[str]:
    return ["-b", bucket]


def test_help_and_version() -> None:
    top = cli("--help")
    assert top.exit_code == 0
    for command in ("download", "publish", "bundle", "info", "list", "repository"):
        assert command in top.stdout
        sub = cli(command, "--help")
        assert sub.exit_code == 0, command
        assert "Usage:" in sub.stdout
    version = cli("--version")
    assert version.exit_code == 0
    assert version.stdout.strip() == f"pipper {__import__('pipper').__version__}"


def test_cli_start_up_does_not_import_s3_libraries() -> None:
    code = (
        "import sys; from pipper.cli import app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aioboto3', 'aiobotocore', 'botocore', 'boto3', 'aiohttp', 'rich')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_python_dash_m_runs_the_same_cli() -> None:
    result = pipper("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("pipper ")


def test_publish_list_and_info(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(
        tmp_path,
        repo,
        {"alpha_pkg": {"1.0.0": [], "1.1.0": [], "2.0.0b1": []}, "beta_pkg": {"0.3.0": []}},
    )
    listing = cli("list", "--json", *repo)
    assert listing.exit_code == 0, listing.stderr
    assert listing.json() == [
        {"name": "alpha_pkg", "latest": "1.1.0", "versions": 3, "yanked": []},
        {"name": "beta_pkg", "latest": "0.3.0", "versions": 1, "yanked": []},
    ]
    info = cli("info", "Alpha-Pkg", "--json", *repo)
    assert info.exit_code == 0, info.stderr
    data = info.json()
    assert isinstance(data, dict)
    assert [v["version"] for v in data["versions"]] == ["2.0.0b1", "1.1.0", "1.0.0"]
    assert data["latest"] == "1.1.0"
    assert data["status"] == "missing"
    assert all(v["size"] > 0 and v["timestamp"] for v in data["versions"])
    text = cli("info", "alpha_pkg", *repo)
    assert "latest: 1.1.0" in text.stdout
    rows = [line.split()[0] for line in text.stdout.splitlines()[1:]]
    assert rows == ["2.0.0b1", "1.1.0", "1.0.0"]


@pytest.mark.parametrize(
    ("published", "status"),
    [("0.0.1", "ahead"), (None, "current"), ("999.0.0", "behind")],
)
def test_info_compares_with_the_installed_version(
    tmp_path: Path, repo: list[str], published: str | None, status: str
) -> None:
    installed = metadata.version("typer")
    publish_graph(tmp_path, repo, {"typer": {published or installed: []}})
    data = cli("info", "typer", "--json", *repo).json()
    assert isinstance(data, dict)
    assert (data["installed"], data["status"]) == (installed, status)


def test_every_version_pip_accepts_can_be_published(tmp_path: Path, repo: list[str]) -> None:
    versions = ["1.0", "1.2.0rc1", "2.0.0.post1", "1.2.3-alpha.1", "3.0.0.dev2", "1!0.5"]
    publish_graph(tmp_path, repo, {"many": {v: [] for v in versions}})
    data = cli("info", "many", "--json", *repo).json()
    assert isinstance(data, dict)
    keys = {v["key"] for v in data["versions"]}
    assert "pipper/many/v1-0.pipper" in keys
    assert "pipper/many/v1-2-0__pre_rc1.pipper" in keys
    assert "pipper/many/v2-0-0__post_1.pipper" in keys
    from packaging.version import Version

    got = sorted(Version(v["version"]) for v in data["versions"])
    assert got == sorted(Version(v) for v in versions)


def test_version_exists_unless_force(tmp_path: Path, repo: list[str]) -> None:
    bundles = publish_graph(tmp_path, repo, {"alpha_pkg": {"1.0.0": []}})
    again = cli("publish", str(bundles / "alpha_pkg-v1-0-0.pipper"), *repo)
    assert again.exit_code == 8
    assert "already published" in again.stderr and "--force" in again.stderr
    forced = cli("publish", str(bundles / "alpha_pkg-v1-0-0.pipper"), "--force", *repo)
    assert forced.exit_code == 0, forced.stderr
    assert "(replaced)" in forced.stderr


def test_publishing_junk_is_refused(tmp_path: Path, repo: list[str]) -> None:
    junk = tmp_path / "junk.pipper"
    junk.write_text("not a zip")
    result = cli("publish", str(junk), *repo)
    assert result.exit_code == 7
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    missing = cli("publish", str(tmp_path / "nope.pipper"), *repo)
    assert missing.exit_code == 2


def test_unknown_package_and_no_such_bucket(s3_env: dict[str, str], bucket: str) -> None:
    unknown = cli("info", "ghost", "-b", bucket)
    assert unknown.exit_code == 3
    assert "ghost was not found" in unknown.stderr
    no_bucket = cli("info", "ghost", "-b", "no-such-bucket-here")
    assert no_bucket.exit_code == 3
    assert "no such bucket: no-such-bucket-here" in no_bucket.stderr


def test_bad_credentials_and_unreachable_endpoint(
    s3_server: S3Server, s3_env: dict[str, str], bucket: str
) -> None:
    if s3_server.kind == "moto":
        pytest.skip("moto accepts any credentials")
    wrong = cli("list", "-b", bucket, "-c", "pipper-test-key", "wrong-secret-value", "*")
    assert wrong.exit_code == 5
    assert "credentials were refused" in wrong.stderr
    assert "wrong-secret-value" not in wrong.stderr
    unknown_key = cli("list", "-b", bucket, "-c", "nobody", "wrong-secret-value", "*")
    assert unknown_key.exit_code == 5
    down = cli("list", "-b", bucket, "--endpoint-url", "http://127.0.0.1:9")
    assert down.exit_code == 6
    assert "cannot reach" in down.stderr


def test_default_local_repository_and_local_paths(tmp_path: Path, pipper_home: PipperHome) -> None:
    bundle = make_bundle(tmp_path, "local_pkg", "1.0.0")
    first = cli("publish", str(bundle))
    assert first.exit_code == 0, first.stderr
    assert "using the default local repository" in first.stderr
    listed = cli("list", "--json")
    assert listed.json() == [{"name": "local_pkg", "latest": "1.0.0", "versions": 1, "yanked": []}]
    for spelling in (str(tmp_path / "mirror"), (tmp_path / "mirror").as_uri()):
        result = cli("publish", str(bundle), "-b", spelling, "--force")
        assert result.exit_code == 0, result.stderr
        assert (tmp_path / "mirror" / "pipper" / "local_pkg" / "v1-0-0.pipper").is_file()
    got = cli("download", "local_pkg", "-b", str(tmp_path / "mirror"), "-d", str(tmp_path / "v"))
    assert got.exit_code == 0, got.stderr
    assert (tmp_path / "v" / "local_pkg-v1-0-0.pipper").read_bytes() == bundle.read_bytes()


def test_saved_repositories(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, pipper_home: PipperHome
) -> None:
    assert cli("repository", "exists", "team").exit_code == 1
    added = cli("repository", "add", "team", "-b", bucket, "--prefix", "a/b", "--default")
    assert added.exit_code == 0, added.stderr
    assert cli("repository", "exists", "team").exit_code == 0
    duplicate = cli("repository", "add", "team", "-b", bucket)
    assert duplicate.exit_code == 2
    publish_graph(tmp_path, [], {"p": {"1.0.0": []}})  # goes to the default repository
    assert s3_env  # the server's credentials come from the environment
    listing = cli("list", "--json", "-r", "team")
    assert listing.json() == [{"name": "p", "latest": "1.0.0", "versions": 1, "yanked": []}]
    rows = cli("repository", "list", "--json").json()
    assert rows == [
        {
            "name": "team",
            "default": True,
            "bucket": bucket,
            "root_prefix": "a/b",
            "profile": None,
            "endpoint_url": None,
            "region": None,
            "has_keys": False,
        }
    ]
    assert cli("repository", "modify", "team", "--prefix", "c").exit_code == 0
    assert cli("list", "--json", "-r", "team").json() == []
    assert cli("repository", "remove", "team").exit_code == 0
    assert cli("repository", "exists", "team").exit_code == 1
    saved = json.loads((pipper_home.home / "repositories.json").read_text())
    assert saved == {"repositories": {}, "default": None}
    assert cli("repository", "remove", "team").exit_code == 3


def test_demo_runs_the_main_job_on_the_default_local_repository(
    tmp_path: Path, pipper_home: PipperHome
) -> None:
    target = tmp_path / "demo"
    first = cli("demo", "-d", str(target))
    assert first.exit_code == 0, first.stderr
    assert "8 published now" in first.stderr
    assert sorted(p.name for p in (target / "vendor").iterdir()) == [
        "demo_app-v1-0-0.pipper",
        "demo_http-v2-0-0.pipper",
        "demo_models-v1-0-0.pipper",
        "demo_utils-v2-0-0.pipper",
    ]
    again = cli("demo", "-d", str(target))
    assert again.exit_code == 0, again.stderr
    assert "0 published now" in again.stderr
    assert "(4 from cache, 0 fetched" in again.stderr
