"""``pipper yank`` / ``unyank`` against a real S3 server and a local directory repository.

A yanked version is hidden from every requirement that does not pin it, shown with its reason by
``info`` and ``list``, still installable from a lock (with a warning), and invisible to the
original pipper 0.11.1, which must go on listing and downloading from the same bucket.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from pipper.context import CommandContext
from pipper.errors import ResolutionError
from pipper.repositories import resolve_repository
from pipper.storage.base import ObjectChanged
from tests.cli.test_prereleases import resolve
from tests.lib.cli import Graph, cli, publish_graph
from tests.lib.proxy import MakeProxy
from tests.lib.s3servers import S3Server
from tests.system.test_interop import original_pipper  # noqa: F401  (the fixture)

GRAPH: Graph = {
    "app": {"1.0.0": ["lib"]},
    "lib": {"1.0.0": [], "1.1.0": [], "2.0.0rc1": []},
}


def chosen(result: object) -> dict[str, str]:
    assert isinstance(result, dict)
    return {p["name"]: p["version"] for p in result["packages"]}


def download(repo: Sequence[str], out: Path, *ids: str) -> dict[str, str]:
    result = cli("download", *ids, "-d", str(out), "--json", *repo)
    assert result.exit_code == 0, result.stderr
    return chosen(result.json())


def test_yank_hides_a_version_unless_pinned_and_unyank_restores_it(
    tmp_path: Path, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, GRAPH)
    assert download(repo, tmp_path / "before", "app") == {"app": "1.0.0", "lib": "1.1.0"}

    yanked = cli("yank", "lib", "1.1.0", "--reason", "breaks  the\tlogin page", *repo)
    assert yanked.exit_code == 0, yanked.stderr
    assert "Yanked lib 1.1.0" in yanked.stderr
    # Unpinned, directly or through a dependency: the yanked version is skipped.
    assert download(repo, tmp_path / "a", "app") == {"app": "1.0.0", "lib": "1.0.0"}
    assert download(repo, tmp_path / "b", "lib>=1.0") == {"lib": "1.0.0"}
    # Pinned with == (or the original's bare version): it is used, with a warning naming it.
    for pin in ("lib==1.1.0", "lib:1.1.0", "lib===1.1.0"):
        pinned = cli("download", pin, "-d", str(tmp_path / "c"), "--json", *repo)
        assert pinned.exit_code == 0, pinned.stderr
        assert chosen(pinned.json()) == {"lib": "1.1.0"}
        assert "warning: lib 1.1.0 is yanked: breaks the login page" in pinned.stderr
    # A range that only the yanked version satisfies: an error that says how to get it.
    ranged = cli("download", "lib>1.0,<2", "-d", str(tmp_path / "d"), *repo)
    assert ranged.exit_code == 4
    line = ranged.stderr.strip().splitlines()[-1]
    assert "available: 1.0.0, 1.1.0 (yanked), 2.0.0rc1" in line
    assert line.endswith("1.1.0 is yanked: pin it (==1.1.0) to use it anyway")

    info = cli("info", "lib", "--json", *repo)
    assert info.exit_code == 0, info.stderr
    data = info.json()
    assert isinstance(data, dict)
    assert data["latest"] == "1.0.0"
    by_version = {v["version"]: v for v in data["versions"]}
    assert by_version["1.1.0"]["yanked"] is True
    assert by_version["1.1.0"]["yanked_reason"] == "breaks the login page"
    assert by_version["1.0.0"]["yanked"] is False
    assert by_version["1.0.0"]["yanked_reason"] is None
    text = cli("info", "lib", *repo).stdout
    assert any(
        "1.1.0" in row and "(yanked: breaks the login page)" in row for row in text.splitlines()
    )
    listing = cli("list", "--json", *repo).json()
    assert {"name": "lib", "latest": "1.0.0", "versions": 3} | {
        "yanked": [{"version": "1.1.0", "reason": "breaks the login page"}]
    } in listing
    assert "(3 versions; 1.1.0 yanked: breaks the login page)" in cli("list", *repo).stdout

    # Yanking again changes nothing, and keeps the first reason.
    again = cli("yank", "lib", "1.1.0", "--reason", "another", *repo)
    assert again.exit_code == 0, again.stderr
    assert "already yanked: breaks the login page; nothing changed" in again.stderr

    unyanked = cli("unyank", "lib", "1.1.0", *repo)
    assert unyanked.exit_code == 0, unyanked.stderr
    assert "Unyanked lib 1.1.0" in unyanked.stderr
    assert download(repo, tmp_path / "e", "app") == {"app": "1.0.0", "lib": "1.1.0"}
    assert "not yanked; nothing changed" in cli("unyank", "lib", "1.1.0", *repo).stderr
    plain = cli("info", "lib", "--json", *repo).json()
    assert isinstance(plain, dict)
    assert plain["latest"] == "1.1.0"
    assert not any(v["yanked"] for v in plain["versions"])


def test_yank_errors_are_one_line_with_their_exit_code(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(tmp_path, repo, {"lib": {"1.0.0": []}})
    cases = [
        (["yank", "lib", "9.9.9"], 3, "lib 9.9.9 is not in"),
        (["yank", "ghost", "1.0.0"], 3, "package ghost was not found"),
        (["yank", "lib", "not-a-version"], 2, "'not-a-version' is not a valid version"),
        (["yank", "../etc", "1.0.0"], 2, "'..' path component"),
        (["yank", "lib", "1.0.0", "--reason", "a\x07b"], 2, "non-printable"),
        (["yank", "lib", "1.0.0", "--reason", "x" * 501], 2, "at most 500"),
        (["unyank", "lib", "2.0"], 3, "lib 2.0 is not in"),
    ]
    for args, code, message in cases:
        result = cli(*args, *repo)
        assert result.exit_code == code, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], args
    # None of them wrote anything.
    data = cli("info", "lib", "--json", *repo).json()
    assert isinstance(data, dict)
    assert [v["yanked"] for v in data["versions"]] == [False]


def test_a_lock_with_a_yanked_version_still_installs_with_a_warning(
    tmp_path: Path, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, GRAPH)
    lock_file = tmp_path / "pipper.lock"
    assert cli("lock", "app", "-o", str(lock_file), *repo).exit_code == 0
    assert cli("yank", "lib", "1.1.0", "--reason", "bad build", *repo).exit_code == 0

    cold = ["--cache-dir", str(tmp_path / "cold")]
    out = tmp_path / "vendor"
    result = cli("download", "--lock", str(lock_file), "-d", str(out), "--json", *repo, *cold)
    assert result.exit_code == 0, result.stderr
    assert chosen(result.json()) == {"app": "1.0.0", "lib": "1.1.0"}
    assert "warning: lib 1.1.0 is yanked: bad build; it is used because the lock names it" in (
        result.stderr
    )
    assert sorted(p.name for p in out.iterdir()) == ["app-v1-0-0.pipper", "lib-v1-1-0.pipper"]
    # The cache now remembers the yank: a warm run warns too, offline, with no request at all.
    warm = cli("download", "--lock", str(lock_file), "-d", str(out), "--offline", *repo, *cold)
    assert warm.exit_code == 0, warm.stderr
    assert "warning: lib 1.1.0 is yanked" in warm.stderr


def test_a_cold_lock_run_learns_yanks_from_one_listing(
    tmp_path: Path,
    s3_env: dict[str, str],
    s3_server: S3Server,
    bucket: str,
    make_proxy: MakeProxy,
) -> None:
    graph: Graph = {
        "app": {"1.0.0": ["a", "b", "c"]},
        "a": {"1.0.0": []},
        "b": {"1.0.0": []},
        "c": {"1.0.0": []},
    }
    publish_graph(tmp_path, ["-b", bucket], graph)
    lock_file = tmp_path / "pipper.lock"
    assert cli("lock", "app", "-o", str(lock_file), "-b", bucket).exit_code == 0
    assert cli("yank", "b", "1.0.0", "-b", bucket).exit_code == 0
    marker = s3_server.client().head_object(Bucket=bucket, Key="pipper/b/v1-0-0.yanked")
    assert marker["ContentType"] == "application/json"
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url, "--cache-dir", str(tmp_path / "fresh")]
    result = cli("download", "--lock", str(lock_file), "-d", str(tmp_path / "v"), *repo)
    assert result.exit_code == 0, result.stderr
    assert "warning: b 1.0.0 is yanked; it is used because the lock names it" in result.stderr
    assert "a 1.0.0 is yanked" not in result.stderr
    # Four bundle GETs, one listing of the whole prefix, one GET of b's marker.
    assert proxy.count("list") == 1
    assert proxy.count("get") == 5


def test_resolution_learns_yanks_from_the_listing_it_already_makes(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, make_proxy: MakeProxy
) -> None:
    publish_graph(tmp_path, ["-b", bucket], GRAPH)
    assert cli("yank", "lib", "1.1.0", "-b", bucket).exit_code == 0
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url]
    assert download(repo, tmp_path / "v", "app") == {"app": "1.0.0", "lib": "1.0.0"}
    assert proxy.count("list") == 1  # the whole prefix, markers included
    assert proxy.count("get") == 2  # the two bundles; no marker is read when none is chosen


def test_delete_is_conditional_on_the_listed_etag(tmp_path: Path, location: str) -> None:
    repository = resolve_repository(
        bucket=location, root_prefix=None, repository=None, endpoint_url=None, region=None
    )

    async def go() -> tuple[list[str], list[str]]:
        async with CommandContext().open_storage(repository, create=True) as storage:
            await storage.put("pipper/x/v1-0-0.yanked", io.BytesIO(b"one"), {}, if_absent=True)
            listed = (await storage.list("pipper/x/")).objects
            with pytest.raises(ObjectChanged):
                await storage.delete("pipper/x/v1-0-0.yanked", if_match='"not-its-etag"')
            kept = [o.key for o in (await storage.list("pipper/x/")).objects]
            await storage.delete("pipper/x/v1-0-0.yanked", if_match=listed[0].etag)
            await storage.delete("pipper/x/v1-0-0.yanked")  # already gone: not an error
            gone = [o.key for o in (await storage.list("pipper/")).objects]
            return kept, gone

    kept, gone = anyio.run(go)
    assert kept == ["pipper/x/v1-0-0.yanked"]
    assert gone == []
    if repository.is_local:
        assert not (tmp_path / "repo" / "pipper" / "x").exists()  # no empty package folder


@pytest.mark.slow
def test_the_original_lists_and_downloads_from_a_bucket_with_a_yanked_version(
    tmp_path: Path,
    s3_server: S3Server,
    bucket: str,
    s3_env: dict[str, str],
    original_pipper: Path,  # noqa: F811
) -> None:
    bundles = publish_graph(tmp_path, ["-b", bucket], {"ours_pkg": {"1.0.0": [], "1.1.0": []}})
    assert cli("yank", "ours_pkg", "1.1.0", "--reason", "bad", "-b", bucket).exit_code == 0
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert "pipper/ours_pkg/v1-1-0.yanked" in keys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # never shadow its pipper
    env["AWS_ENDPOINT_URL"] = s3_server.endpoint_url

    def original(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(original_pipper), *args, "-b", bucket],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # It does not know about yanks: it still sees 1.1.0 as the latest, and does not trip over
    # the marker beside it.
    info = original("info", "ours_pkg")
    assert info.returncode == 0, info.stderr
    assert "Latest version: 1.1.0" in info.stdout
    for spec, expected in (("ours_pkg", "v1-1-0"), ("ours_pkg:1.0.0", "v1-0-0")):
        got = tmp_path / f"from-original-{expected}"
        done = original("download", spec, "-d", str(got))
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        files = list(got.glob("*.pipper"))
        assert len(files) == 1
        assert files[0].read_bytes() == (bundles / f"ours_pkg-{expected}.pipper").read_bytes()


# -- the resolver's rule, with plain callables --------------------------------------------------


def test_a_yanked_version_counts_as_absent_before_the_prerelease_rule() -> None:
    graph: Graph = {"a": {"1.0.0": [], "2.0.0": [], "3.0.0rc1": []}}
    assert resolve(graph, "a", yanked={("a", "2.0.0")}) == {"a": "1.0.0"}
    # With every final release yanked, a prerelease is all that is left: it is taken.
    assert resolve(graph, "a", yanked={("a", "1.0.0"), ("a", "2.0.0")}) == {"a": "3.0.0rc1"}
    # A pin selects the yanked one; ==2.0 pins 2.0.0 too (PEP 440 pads releases with zeros).
    assert resolve(graph, "a==2.0", yanked={("a", "2.0.0")}) == {"a": "2.0.0"}
    # A wildcard is not a pin.
    with pytest.raises(ResolutionError, match=r"2\.0\.0 is yanked: pin it \(==2\.0\.0\)"):
        resolve(graph, "a==2.*", yanked={("a", "2.0.0")})


def test_a_dependency_may_pin_a_yanked_version_for_everyone() -> None:
    graph: Graph = {
        "app": {"1.0.0": ["lib", "tool"]},
        "tool": {"1.0.0": ["lib==1.1.0"]},
        "lib": {"1.0.0": [], "1.1.0": []},
    }
    assert resolve(graph, "app", yanked={("lib", "1.1.0")}) == {
        "app": "1.0.0",
        "tool": "1.0.0",
        "lib": "1.1.0",
    }
    assert resolve(graph, "lib", yanked={("lib", "1.1.0")}) == {"lib": "1.0.0"}
    # Even when the yanked version is the only one, met unpinned first and pinned a level later.
    only = {**graph, "lib": {"1.1.0": []}}
    assert resolve(only, "app", yanked={("lib", "1.1.0")})["lib"] == "1.1.0"
    with pytest.raises(ResolutionError, match=r"available: 1\.1\.0 \(yanked\); 1\.1\.0 is yanked"):
        resolve(only, "lib", yanked={("lib", "1.1.0")})


def test_a_marker_for_a_missing_bundle_or_another_file_is_ignored(
    tmp_path: Path, s3_env: dict[str, str], s3_server: S3Server, bucket: str
) -> None:
    publish_graph(tmp_path, ["-b", bucket], {"lib": {"1.0.0": []}})
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="pipper/lib/v9-9-9.yanked", Body=b"{}")  # orphan
    client.put_object(Bucket=bucket, Key="pipper/lib/v1-0-0.yanked", Body=b"\xff not json")
    result = cli("info", "lib", "--json", "-b", bucket)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    assert [(v["version"], v["yanked"], v["yanked_reason"]) for v in data["versions"]] == [
        ("1.0.0", True, None)
    ]
    assert "not a JSON yank marker" in result.stderr
    assert "v9-9-9.yanked" not in result.stderr  # a marker is never "not a bundle key"
    assert json.loads(cli("list", "--json", "-b", bucket).stdout)[0]["latest"] is None
