"""The foundation's commands end to end: publish, list, info, repositories, errors, help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from tests.lib.cli import REPO_ROOT, PtyProcess, cli, pipper, publish_graph
from tests.lib.isolation import PipperHome
from tests.lib.proxy import Faults, MakeProxy
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


# -- where a command reads and writes --------------------------------------------------------------


def test_a_bucket_with_a_slash_is_refused_not_written_to_a_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bundle = make_bundle(tmp_path / "dist", "acme_auth", "1.0.0")
    result = cli("publish", str(bundle), "-b", "team-pkgs/shared")
    assert result.exit_code == 2
    assert "./team-pkgs/shared" in result.stderr
    assert "-b team-pkgs --root-prefix shared" in result.stderr
    assert not (tmp_path / "team-pkgs").exists()
    spelled = cli("publish", str(bundle), "-b", "./team-pkgs/shared")
    assert spelled.exit_code == 0, spelled.stderr
    assert (tmp_path / "team-pkgs" / "shared" / "pipper" / "acme_auth" / "v1-0-0.pipper").is_file()


def test_every_read_and_write_line_names_the_repository(
    tmp_path: Path, s3_server: S3Server, s3_env: dict[str, str], bucket: str
) -> None:
    endpoint = s3_server.endpoint_url
    where = f"s3://{bucket}/pipper at {endpoint.rstrip('/')}"
    repo = ["-b", bucket, "--endpoint-url", endpoint]
    bundle = make_bundle(tmp_path / "dist", "acme_auth", "1.0.0")
    published = cli("publish", str(bundle), *repo)
    assert published.exit_code == 0, published.stderr
    assert f"to pipper/acme_auth/v1-0-0.pipper in {where}" in published.stderr
    listed = cli("list", *repo)
    assert f"1 package in {where}" in listed.stderr
    shown = cli("info", "acme_auth", *repo)
    assert f"1 version of acme_auth in {where}" in shown.stderr
    got = cli("download", "acme_auth", *repo, "-d", str(tmp_path / "v"))
    assert got.exit_code == 0, got.stderr
    assert f"Downloaded 1 packages from {where} into" in got.stderr
    local = tmp_path / "local"
    to_local = cli("publish", str(bundle), "-b", str(local))
    assert f"in local directory {local} (prefix pipper)" in to_local.stderr


@pytest.mark.parametrize(
    "command", [["list"], ["info", "acme_auth"], ["download", "acme_auth", "-d", "out"]]
)
def test_a_missing_local_repository_is_not_found_for_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(*command, "-b", "./missing-dir")
    assert result.exit_code == 3, result.stderr
    assert f"no such local repository: {tmp_path / 'missing-dir'}" in result.stderr
    assert not (tmp_path / "missing-dir").exists()


def test_publishing_a_folder_publishes_the_new_bundles_past_an_existing_one(
    tmp_path: Path, repo: list[str]
) -> None:
    dist = tmp_path / "dist"
    make_bundle(dist, "alpha_pkg", "1.0.0")
    first = cli("publish", str(dist), *repo)
    assert first.exit_code == 0, first.stderr
    make_bundle(dist, "alpha_pkg", "1.1.0")
    make_bundle(dist, "beta_pkg", "0.1.0")
    again = cli("publish", str(dist), *repo, "--json")
    assert again.exit_code == 8
    assert "Refused alpha_pkg 1.0.0: already published as pipper/alpha_pkg/v1-0-0.pipper" in (
        again.stderr
    )
    error = [line for line in again.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "1 of 3 bundles are already published" in error[0]
    assert "--skip-existing" in error[0] and "--force" in error[0]
    rows = again.json()
    assert isinstance(rows, list)
    assert {(r["name"], r["version"], r["status"]) for r in rows} == {
        ("alpha_pkg", "1.0.0", "refused"),
        ("alpha_pkg", "1.1.0", "published"),
        ("beta_pkg", "0.1.0", "published"),
    }
    listing = cli("list", "--json", *repo).json()
    assert listing == [
        {"name": "alpha_pkg", "latest": "1.1.0", "versions": 2, "yanked": []},
        {"name": "beta_pkg", "latest": "0.1.0", "versions": 1, "yanked": []},
    ]
    skipped = cli("publish", str(dist), *repo, "--skip-existing")
    assert skipped.exit_code == 0, skipped.stderr
    assert "error:" not in skipped.stderr
    assert skipped.stderr.count("Skipped ") == 3
    assert cli("publish", str(dist), *repo, "--skip-existing", "--force").exit_code == 2


def test_install_takes_a_bundle_url_as_a_url(tmp_path: Path) -> None:
    """``pipper install http://host/.../v1-0-0.pipper`` once looked for a local file."""
    import functools
    import http.server
    import threading

    local = tmp_path / "served"
    bundle = make_bundle(tmp_path / "d", "solo", "1.0.0")
    assert cli("publish", str(bundle), "-b", str(local)).exit_code == 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(local))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/pipper/solo/v1-0-0.pipper"
        planned = cli("install", url, "--dry-run", "--target", str(tmp_path / "t"))
    finally:
        server.shutdown()
        server.server_close()
    assert planned.exit_code == 0, planned.stderr
    assert "install    solo 1.0.0" in planned.stdout


# -- info compares with the environment install would change --------------------------------------


def _venv_with(tmp_path: Path, name: str, version: str) -> Path:
    """A virtual environment (no pip) that holds a distribution ``name`` at ``version``."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    dist = site / f"{name}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return venv


def test_info_reads_the_environment_of_python_or_the_active_venv(
    tmp_path: Path, repo: list[str]
) -> None:
    own = metadata.version("typer")
    publish_graph(tmp_path, repo, {"typer": {own: []}})
    venv = _venv_with(tmp_path, "typer", "0.0.1")
    data = cli("info", "typer", "--json", "--python", str(venv), *repo).json()
    assert isinstance(data, dict)
    assert (data["installed"], data["status"]) == ("0.0.1", "behind")
    active = cli("info", "typer", "--json", *repo, env={"VIRTUAL_ENV": str(venv)}).json()
    assert isinstance(active, dict)
    assert active["installed"] == "0.0.1"
    text = cli("info", "typer", "--python", str(venv), *repo)
    assert f"as {venv / 'bin' / 'python'} sees it" in text.stderr
    bad = cli("info", "typer", "--python", str(tmp_path / "nowhere"), *repo)
    assert bad.exit_code == 2 and "no Python interpreter" in bad.stderr


# -- signals and pipes: real processes -------------------------------------------------------------


def _published_locally(tmp_path: Path, count: int) -> Path:
    local = tmp_path / "local-repo"
    dist = tmp_path / "many"
    for n in range(count):
        make_bundle(dist, f"pkg{n:02d}", "1.0.0")
    assert cli("-q", "publish", str(dist), "-b", str(local)).exit_code == 0
    return local


def test_a_closed_pipe_ends_the_command_silently(tmp_path: Path) -> None:
    """``pipper list | head -1`` printed ``error: Broken pipe`` and exited 1."""
    local = _published_locally(tmp_path, 30)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipper", "-q", "list", "-b", str(local)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line: every write breaks
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert err == ""
    script = f"set -o pipefail; {sys.executable} -m pipper -q list -b {local} | head -1"
    for _ in range(10):
        piped = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60
        )
        assert (piped.returncode, piped.stderr) == (0, "")
        assert piped.stdout.startswith("pkg00 ")


def test_sigterm_during_a_download_restores_the_terminal(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, make_proxy: MakeProxy
) -> None:
    """A cancelled CI job left the cursor hidden and the progress line unfinished."""
    import re
    import signal

    publish_graph(tmp_path, ["-b", bucket], {"big": {"1.0.0": []}}, sizes={"big": 4_000_000})
    stall = make_proxy(faults=Faults(stall_rate=1.0, stall_seconds=30, only={"get"}))
    cache = tmp_path / "cache"
    args = ["download", "big", "-b", bucket, "--endpoint-url", stall.url, "--cache-dir", str(cache)]
    env = {"COLUMNS": "100", "PIPPER_NO_PROGRESS": "0"}
    process = PtyProcess([*args, "-d", str(tmp_path / "out")], env)
    output = process.output
    deadline = time.monotonic() + 60
    try:
        while b"\x1b[?25l" not in output or not list(cache.glob("tmp/*.part")):
            assert time.monotonic() < deadline, bytes(output)
            assert process.proc.poll() is None, bytes(output)
            time.sleep(0.05)
        process.proc.send_signal(signal.SIGTERM)
    finally:
        code = process.wait(timeout=30)
    assert code == 128 + signal.SIGTERM
    raw = bytes(output)
    assert raw.rindex(b"\x1b[?25h") > raw.rindex(b"\x1b[?25l"), raw  # the cursor is back
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.decode(errors="replace")).replace("\r", "")
    lines = [line for line in text.split("\n") if line.strip()]
    assert lines[-1] == "error: terminated by SIGTERM", lines
    assert text.endswith("\n")
    assert [line for line in lines if "error" in line] == [lines[-1]]
    assert "Traceback" not in text and "Unclosed" not in text and "never retrieved" not in text
    assert not list(cache.glob("tmp/*.part"))  # the partial body was cleaned up
