"""The bucket as a standard package index, against real servers and real installers.

uv and pip read the index themselves: plain ``uv pip install --index-url <bucket>/pipper/~simple/``
with uv's own S3 signing (moto's server, which keeps keys ending in ``/`` as AWS S3 does), and
``pip install --find-links`` on a page of presigned URLs with no credentials at all (SeaweedFS,
which checks every signature). Eight publishing processes race for one project's pages, stepped
through a proxy so that they all read each page before any of them writes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from pipper.simple.pages import parse_project, parse_root, project_html
from tests.lib.cli import cli, spawn
from tests.lib.polling import wait_for
from tests.lib.proxy import Proxy
from tests.lib.pypiservers import PypiServer
from tests.lib.s3servers import S3Server, find_executable
from tests.lib.venvs import fresh_venv, installed_in
from tests.lib.wheels import make_bundle

pytestmark = pytest.mark.usefixtures("isolated_installers")

SIMPLE = "pipper/~simple/"


def objects_of(server: S3Server, bucket: str, prefix: str = SIMPLE) -> dict[str, bytes]:
    client = server.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def uv() -> str:
    found = find_executable("uv")
    assert found, "uv is a test dependency (pyproject .[test])"
    return found


def uv_env(server_url: str, credentials: Mapping[str, str], cache: Path) -> dict[str, str]:
    """What the README tells a uv user to set, and nothing of this machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "UV_", "PIP_"))}
    env.update(
        UV_S3_ENDPOINT_URL=server_url,
        UV_PREVIEW_FEATURES="s3-endpoint",
        AWS_ACCESS_KEY_ID=credentials["AWS_ACCESS_KEY_ID"],
        AWS_SECRET_ACCESS_KEY=credentials["AWS_SECRET_ACCESS_KEY"],
        AWS_REGION=credentials["AWS_DEFAULT_REGION"],
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        UV_CACHE_DIR=str(cache),
        UV_NO_CONFIG="1",
    )
    return env


@pytest.fixture
def through_proxy(moto_server: S3Server) -> Iterator[Proxy]:
    """moto behind a proxy that refuses unsigned requests, as a private bucket on AWS does."""
    with Proxy(moto_server.endpoint_url, private=True) as proxy:
        yield proxy


# -- uv --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_uv_installs_a_private_graph_from_the_bucket_with_its_own_signing(
    tmp_path: Path,
    moto_server: S3Server,
    moto_bucket: str,
    moto_env: dict[str, str],
    through_proxy: Proxy,
    pypi_server: PypiServer,
) -> None:
    """Three packages whose wheels require each other (and one public package), published to
    the bucket; a fresh venv gets them all from one plain ``uv pip install``."""
    dist = tmp_path / "dist"
    make_bundle(dist, "app_pkg", "1.0.0", requires=["lib_pkg>=1.1", "util_pkg", "idx-public"])
    make_bundle(dist, "lib_pkg", "1.0.0", requires=["util_pkg"])
    make_bundle(dist, "lib_pkg", "1.1.0", requires=["util_pkg<3"])
    make_bundle(dist, "util_pkg", "2.0.0")
    make_bundle(dist, "util_pkg", "3.0.0")
    pypi_server.publish("idx-public", "0.5.0")
    published = cli("publish", str(dist), "-b", moto_bucket)
    assert published.exit_code == 0, published.stderr

    python = fresh_venv(tmp_path / "venv")
    # The URL and the settings as `pipper index url` prints them for the user to paste.
    told = cli("index", "url", "-b", moto_bucket, "--endpoint-url", through_proxy.url)
    assert told.exit_code == 0, told.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in told.stdout.splitlines()
        if line.startswith("export ")
    )
    assert exports == {
        "UV_S3_ENDPOINT_URL": through_proxy.url,
        "UV_PREVIEW_FEATURES": "s3-endpoint",
        "AWS_REGION": "us-east-1",
    }
    index = told.stdout.split("--index-url ")[1].split()[0]
    assert index == f"{through_proxy.url}/{moto_bucket}/{SIMPLE}"
    env = uv_env(exports["UV_S3_ENDPOINT_URL"], moto_env, tmp_path / "uv-cache")
    # The bucket first (uv's extra index), then the public index: idx-public is a 404 in the
    # bucket, and uv goes on to the next index only on a 404 (a 403 would stop it).
    args = ["pip", "install", "--python", str(python), "--extra-index-url", index]
    run = subprocess.run(
        [uv(), *args, "--index-url", pypi_server.index_url, "app_pkg"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    installed = installed_in(python)
    assert {k: installed[k] for k in ("app-pkg", "lib-pkg", "util-pkg", "idx-public")} == {
        "app-pkg": "1.0.0",
        "lib-pkg": "1.1.0",
        "util-pkg": "2.0.0",  # lib_pkg 1.1.0 needs util_pkg<3: uv read the metadata files
        "idx-public": "0.5.0",
    }
    # What uv asked the bucket for, signed (uv tries without a signature first, and signs
    # once refused, as AWS refuses an unsigned request to a private bucket).
    credential = f"AWS4-HMAC-SHA256 Credential={moto_env['AWS_ACCESS_KEY_ID']}/"
    asked = {
        unquote(r.path): r.status
        for r in through_proxy.requests
        if r.headers.get("authorization", "").startswith(credential)
    }
    bucket = f"/{moto_bucket}/{SIMPLE}"
    assert asked[f"{bucket}app-pkg/"] == 200  # the folder key, as uv asks for it
    assert asked[f"{bucket}idx-public/"] == 404  # so uv went on to the next index
    assert asked[f"{bucket}lib-pkg/lib_pkg-1.1.0-py3-none-any.whl.metadata"] == 200  # PEP 658
    assert f"{bucket}util-pkg/util_pkg-3.0.0-py3-none-any.whl" not in asked  # never downloaded


@pytest.mark.slow
def test_uv_signs_for_a_store_that_checks_every_signature(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    """SeaweedFS refuses what is not signed with the right secret: uv reads the project's
    HTML page (``--find-links``) and the wheels with UV_S3_ENDPOINT_URL, and is refused
    without it."""
    dist = tmp_path / "dist"
    make_bundle(dist, "signed_pkg", "1.0.0", requires=["signed_dep"])
    make_bundle(dist, "signed_dep", "1.0.0")
    assert cli("publish", str(dist), "-b", bucket).exit_code == 0
    pages = [
        f"{s3_server.endpoint_url}/{bucket}/{SIMPLE}{project}/index.html"
        for project in ("signed-pkg", "signed-dep")
    ]
    links = [arg for page in pages for arg in ("--find-links", page)]
    python = fresh_venv(tmp_path / "venv")
    command = [uv(), "pip", "install", "--python", str(python), "--no-index", *links]
    env = uv_env(s3_server.endpoint_url, s3_env, tmp_path / "uv-cache")
    unsigned = {k: v for k, v in env.items() if k != "UV_S3_ENDPOINT_URL"}
    refused = subprocess.run([*command, "signed_pkg"], env=unsigned, capture_output=True, text=True)
    assert refused.returncode != 0 and "403" in refused.stderr
    run = subprocess.run([*command, "signed_pkg"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert {"signed-pkg", "signed-dep"} <= set(installed_in(python))
    assert "experimental" not in run.stderr
    # Without the preview feature uv still signs, and says the feature is experimental.
    again = fresh_venv(tmp_path / "again")
    unannounced = {k: v for k, v in env.items() if k != "UV_PREVIEW_FEATURES"}
    unannounced["UV_CACHE_DIR"] = str(tmp_path / "cold-cache")  # so it asks the bucket again
    command[command.index(str(python))] = str(again)
    warned = subprocess.run(
        [*command, "signed_pkg"], env=unannounced, capture_output=True, text=True
    )
    assert warned.returncode == 0, warned.stderr
    assert "`s3-endpoint` option is experimental" in warned.stderr


# -- pip with no credentials -----------------------------------------------------------------


@pytest.mark.slow
def test_pip_installs_from_a_find_links_page_with_no_credentials(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    dist = tmp_path / "dist"
    make_bundle(dist, "web_app", "2.0.0", requires=["web_core"], dependencies=["web_core"])
    make_bundle(dist, "web_core", "1.0.0")
    make_bundle(dist, "web_core", "1.1.0")
    assert cli("publish", str(dist), "-b", bucket).exit_code == 0
    page = tmp_path / "links.html"
    result = cli("authorize", "web_app", "--find-links", str(page), "-e", "1h", "-b", bucket)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # the URLs went to the page only
    assert "X-Amz-Signature" not in result.stderr and "Wrote a find-links page" in result.stderr
    assert page.stat().st_mode & 0o777 == 0o600
    text = page.read_text()
    assert text.count("X-Amz-Signature=") == 2 and "web_core-1.1.0-py3-none-any.whl" in text

    python = fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIP_"))}
    env.update(HOME=str(tmp_path / "home"), PIP_CONFIG_FILE=os.devnull)
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index"]
    run = subprocess.run(
        [*pip, "--find-links", str(page), "web_app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    installed = installed_in(python)
    assert (installed["web-app"], installed["web-core"]) == ("2.0.0", "1.1.0")


def test_a_page_for_a_package_the_index_lacks_says_to_rebuild_it(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    bundle = make_bundle(tmp_path / "dist", "quiet_pkg", "1.0.0")
    assert cli("publish", str(bundle), "--no-index", "-b", bucket).exit_code == 0
    page = tmp_path / "links.html"
    result = cli("authorize", "quiet_pkg", "--find-links", str(page), "-b", bucket)
    assert result.exit_code == 3
    assert "not in the simple index" in result.stderr and "pipper index rebuild" in result.stderr
    assert not page.exists()
    assert cli("index", "rebuild", "-b", bucket).exit_code == 0
    assert cli("authorize", "quiet_pkg", "--find-links", str(page), "-b", bucket).exit_code == 0


# -- the pages and their hashes --------------------------------------------------------------


def test_the_hashes_in_every_page_are_those_of_the_objects(
    tmp_path: Path, moto_server: S3Server, moto_bucket: str, moto_env: dict[str, str]
) -> None:
    dist = tmp_path / "dist"
    for version in ("1.0.0", "1.1.0"):
        make_bundle(dist, "hash_pkg", version, requires=["hash_dep"], payload_size=3000)
    make_bundle(dist, "hash_dep", "0.1.0")
    assert cli("publish", str(dist), "-b", moto_bucket).exit_code == 0
    assert cli("yank", "hash_pkg", "1.0.0", "--reason", "old", "-b", moto_bucket).exit_code == 0
    objects = objects_of(moto_server, moto_bucket)
    folder = f"{SIMPLE}hash-pkg/"
    page = parse_project(objects[f"{folder}index.json"], "page")
    assert [(f.version, f.yank_reason) for f in page.files] == [("1.0.0", "old"), ("1.1.0", None)]
    html = objects[f"{folder}index.html"].decode()
    for file in page.files:
        wheel = objects[folder + file.filename]
        metadata = objects[folder + file.filename + ".metadata"]
        assert file.sha256 == hashlib.sha256(wheel).hexdigest() and file.size == len(wheel)
        assert file.metadata_sha256 == hashlib.sha256(metadata).hexdigest()
        assert f"{file.filename}#sha256={file.sha256}" in html
        assert f'data-core-metadata="sha256={file.metadata_sha256}"' in html
    assert objects[folder] == objects[f"{folder}index.json"]
    assert objects[f"{folder}index.html"] == project_html(page)
    head = moto_server.client().head_object(Bucket=moto_bucket, Key=folder)
    assert head["ContentType"] == "application/vnd.pypi.simple.v1+json"
    root = parse_root(objects[f"{SIMPLE}index.json"], "root")
    assert (root.projects, root.folder_pages) == (("hash-dep", "hash-pkg"), True)
    check = cli("index", "check", "--hashes", "--json", "-b", moto_bucket)
    assert check.exit_code == 0, check.stdout
    assert check.json()["current"] is True and check.json()["files"] == 3
    listed = cli("list", "--json", "-b", moto_bucket)  # ~simple/ is no package to pipper
    assert [p["name"] for p in listed.json()] == ["hash_dep", "hash_pkg"]
    assert "skipping" not in listed.stderr


def test_a_store_that_keeps_keys_ending_in_a_slash_as_folders_still_gets_the_rest(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    """On SeaweedFS (the default test server) ``<project>/`` is a folder: publish says so once,
    writes every other page, and the index checks out."""
    if s3_server.kind != "seaweedfs":
        pytest.skip("moto keeps keys ending in '/' as objects; this is SeaweedFS's behaviour")
    dist = tmp_path / "dist"
    make_bundle(dist, "folder_a", "1.0.0")
    make_bundle(dist, "folder_b", "1.0.0")
    result = cli("publish", str(dist), "-b", bucket)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("a key that ends in '/'") == 1
    objects = objects_of(s3_server, bucket)
    assert parse_root(objects[f"{SIMPLE}index.json"], "root").folder_pages is False
    assert f"{SIMPLE}folder-b/index.html" in objects
    assert cli("index", "check", "-b", bucket).exit_code == 0


# -- eight publishers at once ----------------------------------------------------------------


def step_through(proxy: Proxy, count: int, *ends: str) -> None:
    """Wait until ``count`` PUTs of keys ending in one of ``ends`` are held, then let them go."""
    wait_for(
        lambda: sum(unquote(r.path).endswith(ends) for r in proxy.waiting) == count,
        timeout=120,
        what=f"{count} PUTs of {' or '.join(ends)} to be held",
    )
    proxy.let_held_through("put")


@pytest.mark.slow
def test_eight_publishing_processes_at_once_all_end_up_in_the_index(
    tmp_path: Path,
    moto_server: S3Server,
    moto_bucket: str,
    moto_env: dict[str, str],
    through_proxy: Proxy,
) -> None:
    versions = [f"1.{minor}.0" for minor in range(8)]
    bundles = [make_bundle(tmp_path / v, "race_pkg", v) for v in versions]
    through_proxy.hold("put")
    env = {"AWS_ENDPOINT_URL": through_proxy.url}
    processes = [spawn("publish", str(b), "-b", moto_bucket, "-vv", env=env) for b in bundles]
    try:
        # Every process past each step before any goes on: the bundles, then the wheels and
        # their metadata (written at once); then every one has read the (absent) page when the
        # eight writes of it land.
        step_through(through_proxy, 8, ".pipper")
        step_through(through_proxy, 16, ".whl", ".whl.metadata")
        step_through(through_proxy, 8, "/race-pkg/index.json")
        through_proxy.release("put")
        outcomes = [p.communicate(timeout=300) for p in processes]
    finally:
        through_proxy.release("put")
        for process in processes:
            process.kill()
    assert [p.returncode for p in processes] == [0] * 8, [err for _, err in outcomes]
    conflicts = [
        r
        for r in through_proxy.requests
        if r.kind == "put" and unquote(r.path).endswith("/race-pkg/index.json")
    ]
    assert sum(r.status == 412 for r in conflicts) >= 7  # all but one lost the first round...
    objects = objects_of(moto_server, moto_bucket)
    page = parse_project(objects[f"{SIMPLE}race-pkg/index.json"], "page")
    assert sorted(f.version for f in page.files) == sorted(versions)  # ...and none was lost
    assert objects[f"{SIMPLE}race-pkg/"] == objects[f"{SIMPLE}race-pkg/index.json"]
    assert objects[f"{SIMPLE}race-pkg/index.html"] == project_html(page)
    assert cli("index", "check", "-b", moto_bucket).exit_code == 0


@pytest.mark.slow
def test_eight_processes_publishing_to_one_local_directory_lose_nothing(tmp_path: Path) -> None:
    versions = [f"2.{minor}.0" for minor in range(8)]
    bundles = [make_bundle(tmp_path / v, "local_race", v) for v in versions]
    repo = str(tmp_path / "repo")
    processes = [spawn("publish", str(b), "-b", repo) for b in bundles]
    outcomes = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0] * 8, [err for _, err in outcomes]
    data = (tmp_path / "repo" / SIMPLE / "local-race" / "index.json").read_bytes()
    assert sorted(f.version for f in parse_project(data, "page").files) == sorted(versions)
    assert cli("index", "check", "-b", repo).exit_code == 0


# -- check and rebuild -----------------------------------------------------------------------


def test_check_reports_every_difference_and_rebuild_fixes_them(
    tmp_path: Path, moto_server: S3Server, moto_bucket: str, moto_env: dict[str, str]
) -> None:
    dist = tmp_path / "dist"
    for name in ("keep_pkg", "gone_pkg", "edit_pkg"):
        make_bundle(dist, name, "1.0.0")
    assert cli("publish", str(dist), "-b", moto_bucket).exit_code == 0
    client = moto_server.client()
    later = make_bundle(tmp_path / "later", "late_pkg", "1.0.0")
    assert cli("publish", str(later), "--no-index", "-b", moto_bucket).exit_code == 0
    client.delete_object(Bucket=moto_bucket, Key="pipper/gone_pkg/v1-0-0.pipper")
    client.delete_object(Bucket=moto_bucket, Key=f"{SIMPLE}keep-pkg/index.html")
    client.put_object(Bucket=moto_bucket, Key="pipper/edit_pkg/v1-0-0.yanked", Body=b"{}")
    client.put_object(Bucket=moto_bucket, Key=f"{SIMPLE}keep-pkg/stray.whl", Body=b"x")

    check = cli("index", "check", "-b", moto_bucket)
    assert check.exit_code == 12, check.stderr
    lines = check.stdout.splitlines()
    assert any(re.match(r"missing: late_pkg 1\.0\.0 .* is not in the index", x) for x in lines)
    assert any(x.startswith("stale: gone_pkg-1.0.0") for x in lines)
    assert any(x.startswith("yank: edit_pkg-1.0.0") for x in lines)
    assert f"page: {SIMPLE}keep-pkg/index.html is missing" in lines
    assert f"orphan: {SIMPLE}keep-pkg/stray.whl belongs to no entry" in lines
    assert "root: late-pkg is not on the root page" in lines
    assert "root: gone-pkg is on the root page but has no bundles" in lines
    assert "run 'pipper index rebuild'" in check.stderr

    rebuilt = cli("index", "rebuild", "--json", "-b", moto_bucket)
    assert rebuilt.exit_code == 0, rebuilt.stderr
    summary: dict[str, Any] = rebuilt.json()
    assert (summary["indexed"], summary["removed"], summary["after"]["current"]) == (1, 1, True)
    assert cli("index", "check", "-b", moto_bucket).exit_code == 0
    objects = objects_of(moto_server, moto_bucket)
    assert f"{SIMPLE}gone-pkg/gone_pkg-1.0.0-py3-none-any.whl" not in objects
    assert f"{SIMPLE}gone-pkg/" not in objects and f"{SIMPLE}keep-pkg/stray.whl" not in objects
    assert json.loads(objects[f"{SIMPLE}edit-pkg/"])["files"][0]["yanked"] is True
    assert parse_root(objects[f"{SIMPLE}index.json"], "root").projects == (
        "edit-pkg",
        "keep-pkg",
        "late-pkg",
    )


@pytest.mark.anyio
async def test_aws_409_conditional_request_conflict_is_a_conflict_to_retry(
    moto_server: S3Server, moto_bucket: str
) -> None:
    """AWS answers 409 ConditionalRequestConflict when two conditional writes of one key
    overlap; it means what a 412 does: read the object again and retry."""
    import io

    from pipper.credentials import Credentials
    from pipper.storage.base import WriteConflict
    from pipper.storage.s3 import S3Storage
    from tests.lib.proxy import Faults

    key = f"{SIMPLE}alpha/index.json"
    etag = moto_server.client().put_object(Bucket=moto_bucket, Key=key, Body=b"{}")["ETag"]
    faults = Faults(error_rate=1.0, error_status=409, error_code="ConditionalRequestConflict")
    faults.only, faults.max_faults = {"put"}, 1
    with Proxy(moto_server.endpoint_url, faults=faults) as proxy:
        keys = Credentials(moto_server.access_key, moto_server.secret_key)
        async with S3Storage(
            bucket=moto_bucket, endpoint_url=proxy.url, region="us-east-1", credentials=keys
        ) as store:
            with pytest.raises(WriteConflict):
                await store.put(key, io.BytesIO(b'{"a": 1}'), {}, if_absent=False, if_match=etag)
            await store.put(key, io.BytesIO(b'{"a": 1}'), {}, if_absent=False, if_match=etag)
    assert (
        moto_server.client().get_object(Bucket=moto_bucket, Key=key)["Body"].read() == b'{"a": 1}'
    )


@pytest.mark.slow
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_local_repository_is_an_index_at_its_file_url(tmp_path: Path, installer: str) -> None:
    """A local directory holds no key ending in '/', but uv and pip read ``index.html`` for a
    folder of a ``file://`` index: ``pipper index url`` names it."""
    dist = tmp_path / "dist"
    make_bundle(dist, "disk_app", "1.0.0", requires=["disk_lib"])
    make_bundle(dist, "disk_lib", "0.2.0")
    repo = tmp_path / "repo"
    assert cli("publish", str(dist), "-b", str(repo)).exit_code == 0
    url = cli("index", "url", "-b", str(repo)).stdout.strip()
    assert url == f"{repo.as_uri()}/{SIMPLE}"
    python = fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "UV_", "PIP_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", UV_CACHE_DIR=str(tmp_path / "uv"))
    if installer == "uv":
        command = [uv(), "pip", "install", "--python", str(python)]
    else:
        command = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    run = subprocess.run(
        [*command, "--index-url", url, "disk_app"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert {"disk-app", "disk-lib"} <= set(installed_in(python))
