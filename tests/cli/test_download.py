"""``pipper download`` against a real S3 server: resolution shapes, cache, offline, output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.lib.cli import Graph, cli, publish_graph
from tests.lib.proxy import Faults, MakeProxy
from tests.lib.s3servers import S3Server


@pytest.fixture
def repo(s3_env: dict[str, str], bucket: str) -> list[str]:
    return ["-b", bucket]


def versions_of(result: object) -> dict[str, str]:
    assert isinstance(result, dict)
    return {p["name"]: p["version"] for p in result["packages"]}


def test_diamond_downloads_every_package_once(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(
        tmp_path,
        repo,
        {
            "top": {"1.0.0": ["left", "right"]},
            "left": {"1.0.0": ["base:>=1.0"]},
            "right": {"1.0.0": ["base:<3"]},
            "base": {"1.0.0": [], "2.0.0": [], "3.0.0": []},
        },
    )
    out = tmp_path / "vendor"
    result = cli("download", "top", "-d", str(out), "--json", *repo)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert versions_of(data) == {"top": "1.0.0", "left": "1.0.0", "right": "1.0.0", "base": "2.0.0"}
    assert sorted(p.name for p in out.iterdir()) == [
        "base-v2-0-0.pipper",
        "left-v1-0-0.pipper",
        "right-v1-0-0.pipper",
        "top-v1-0-0.pipper",
    ]
    assert all(p["source"] == "network" for p in data["packages"])


def test_warm_run_fetches_no_body_and_offline_makes_no_request(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    graph: Graph = {"a": {"1.0.0": ["b"]}, "b": {"1.0.0": ["c"], "0.9.0": []}, "c": {"2.0.0": []}}
    publish_graph(tmp_path, ["-b", bucket], graph)
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url]

    cold = cli("download", "a", "-d", str(tmp_path / "cold"), "--json", *repo)
    assert cold.exit_code == 0, cold.stderr
    assert proxy.count("get") == 3

    proxy.reset()
    warm = cli("download", "a", "-d", str(tmp_path / "warm"), "--json", *repo)
    assert warm.exit_code == 0, warm.stderr
    assert proxy.count("get") == 0
    assert proxy.count("list") == 1  # one listing of the whole prefix answers every package
    assert {p["source"] for p in warm.json()["packages"]} == {"cache"}

    proxy.reset()
    proxy.stop()
    offline = cli("download", "a", "-d", str(tmp_path / "offline"), "--offline", *repo)
    assert offline.exit_code == 0, offline.stderr
    assert proxy.count("all") == 0
    assert len(list((tmp_path / "offline").glob("*.pipper"))) == 3


def test_offline_names_what_is_missing(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(tmp_path, repo, {"a": {"1.0.0": []}})
    result = cli("download", "a", "--offline", "-d", str(tmp_path / "o"), *repo)
    assert result.exit_code == 9
    assert "a is not in the cache" in result.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_deep_chain_and_cycle(tmp_path: Path, repo: list[str]) -> None:
    chain = {f"c{i}": {"1.0.0": [f"c{i + 1}"]} for i in range(7)}
    chain["c7"] = {"1.0.0": ["c0"]}  # back to the start: a cycle
    publish_graph(tmp_path, repo, chain)
    result = cli("download", "c0", "-d", str(tmp_path / "v"), "--json", *repo)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert set(versions_of(data)) == {f"c{i}" for i in range(8)}
    assert data["depth"] == 7


def test_conflict_that_choosing_again_resolves(tmp_path: Path, repo: list[str]) -> None:
    # a -> c (any): c 2.0 is chosen at level 1; b -> d -> c<2 arrives at level 2 and c is
    # chosen again (1.0), whose own dependency e must then be walked.
    publish_graph(
        tmp_path,
        repo,
        {
            "a": {"1.0.0": ["c"]},
            "b": {"1.0.0": ["d"]},
            "d": {"1.0.0": ["c:<2"]},
            "c": {"1.0.0": ["e"], "2.0.0": []},
            "e": {"1.0.0": []},
        },
    )
    result = cli("download", "a", "b", "-d", str(tmp_path / "v"), "--json", *repo)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert versions_of(data) == {
        "a": "1.0.0",
        "b": "1.0.0",
        "c": "1.0.0",
        "d": "1.0.0",
        "e": "1.0.0",
    }
    assert data["rounds"] == 2
    files = sorted(p.name for p in (tmp_path / "v").iterdir())
    assert "c-v2-0-0.pipper" not in files and "c-v1-0-0.pipper" in files


def test_unresolvable_conflict_names_constraints_and_chains(
    tmp_path: Path, repo: list[str]
) -> None:
    publish_graph(
        tmp_path,
        repo,
        {
            "app": {"1.0.0": ["left", "right"]},
            "left": {"1.0.0": ["shared:>=2"]},
            "right": {"1.0.0": ["shared:<2"]},
            "shared": {"1.0.0": [], "2.0.0": []},
        },
    )
    result = cli("download", "app", "-d", str(tmp_path / "v"), *repo)
    assert result.exit_code == 4
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: no version of shared satisfies every constraint")
    assert ">=2 (from requested -> app 1.0.0 -> left 1.0.0)" in line
    assert "<2 (from requested -> app 1.0.0 -> right 1.0.0)" in line
    assert "available: 1.0.0, 2.0.0" in line


def test_missing_dependency_names_who_required_it(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(tmp_path, repo, {"app": {"1.0.0": ["lib"]}, "lib": {"1.0.0": ["ghost"]}})
    result = cli("download", "app", "-d", str(tmp_path / "v"), *repo)
    assert result.exit_code == 3
    assert "package ghost was not found" in result.stderr
    assert "required by requested -> app 1.0.0 -> lib 1.0.0" in result.stderr


def test_prereleases_when_asked_or_when_nothing_else_fits(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(tmp_path, repo, {"p": {"1.0.0": [], "2.0.0rc1": []}, "q": {"1.0.0b1": []}})
    out = str(tmp_path / "v")
    assert versions_of(cli("download", "p", "-d", out, "--json", *repo).json()) == {"p": "1.0.0"}
    assert versions_of(cli("download", "p", "--pre", "-d", out, "--json", *repo).json()) == {
        "p": "2.0.0rc1"
    }
    named = cli("download", "p:>=2.0.0rc1", "-d", out, "--json", *repo)
    assert versions_of(named.json()) == {"p": "2.0.0rc1"}
    # PEP 440: a prerelease is accepted when it is the only kind of version that satisfies.
    only_pre = cli("download", "q", "-d", out, "--json", *repo)
    assert only_pre.exit_code == 0, only_pre.stderr
    assert versions_of(only_pre.json()) == {"q": "1.0.0b1"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", "2.1.0"),
        (":1.1.0", "1.1.0"),
        (":=1.1.0", "1.1.0"),
        (":==1.1.0", "1.1.0"),
        (":1.*", "1.2.0"),
        (":1.1.*", "1.1.5"),
        (":<2.0.0", "1.2.0"),
        (":>=1.1.5", "2.1.0"),
        (":>=1.0,<2", "1.2.0"),
        (":~=1.1", "1.2.0"),
        (":!=2.1.0", "2.0.0"),
        ("==1.1.5", "1.1.5"),
        (">=1.0,<1.2", "1.1.5"),
    ],
)
def test_constraint_forms(
    tmp_path_factory: pytest.TempPathFactory, spec: str, expected: str
) -> None:
    assert _constraint_repo is not None
    repo, out = _constraint_repo
    result = cli("download", f"lib{spec}", "-d", str(out), "--json", *repo)
    assert result.exit_code == 0, result.stderr
    assert versions_of(result.json()) == {"lib": expected}


_constraint_repo: tuple[list[str], Path] | None = None


@pytest.fixture(autouse=True)
def _publish_constraint_repo(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The constraint table shares one published repository (set up on its first case)."""
    global _constraint_repo
    if request.node.originalname != "test_constraint_forms":
        return
    request.getfixturevalue("s3_env")
    if _constraint_repo is None:
        bucket = request.getfixturevalue("bucket")
        repo = ["-b", bucket]
        versions = ["1.0.0", "1.1.0", "1.1.5", "1.2.0", "2.0.0", "2.1.0"]
        publish_graph(tmp_path, repo, {"lib": {v: [] for v in versions}})
        _constraint_repo = (repo, tmp_path / "out")


def test_names_match_with_pep503_normalisation(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(tmp_path, repo, {"Alpha_Pkg": {"1.0.0": ["beta.pkg"]}, "Beta-Pkg": {"1.0.0": []}})
    for spelling in ("alpha-pkg", "ALPHA.PKG", "Alpha_Pkg"):
        result = cli("download", spelling, "-d", str(tmp_path / "v"), "--json", *repo)
        assert result.exit_code == 0, result.stderr
        assert versions_of(result.json()) == {"Alpha_Pkg": "1.0.0", "Beta_Pkg": "1.0.0"}


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_bundle_is_fetched_once_and_files_match_published_bytes(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    bundles = publish_graph(
        tmp_path,
        ["-b", bucket],
        {
            "top": {"1.0.0": ["left", "right", "base"]},
            "left": {"1.0.0": ["base"]},
            "right": {"1.0.0": ["base"]},
            "base": {"1.0.0": []},
        },
        sizes={"base": 3_000_000},
    )
    proxy = make_proxy()
    out = tmp_path / "v"
    result = cli(
        "download", "top", "-d", str(out), "--json", "-b", bucket, "--endpoint-url", proxy.url
    )
    assert result.exit_code == 0, result.stderr
    assert proxy.count("get") == 4
    for package in result.json()["packages"]:
        published = bundles / package["file"]
        assert package["sha256"] == _sha256(published) == _sha256(out / package["file"])


def test_broken_bodies_are_resumed(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    bundles = publish_graph(
        tmp_path,
        ["-b", bucket],
        {"a": {"1.0.0": ["b"]}, "b": {"1.0.0": []}},
        sizes={"a": 4_000_000, "b": 4_000_000},
    )
    faults = Faults(reset_rate=0.5, truncate_rate=0.5, only={"get"}, max_faults=3, seed=7)
    proxy = make_proxy(faults=faults)
    out = tmp_path / "v"
    result = cli(
        "download", "a", "-d", str(out), "--json", "-b", bucket, "--endpoint-url", proxy.url
    )
    assert result.exit_code == 0, result.stderr
    assert proxy.faults_injected >= 3
    assert result.json()["retries"] >= 1
    for name in ("a-v1-0-0.pipper", "b-v1-0-0.pipper"):
        assert _sha256(out / name) == _sha256(bundles / name)


def test_input_files_dev_dependencies_and_default_pipper_json(
    tmp_path: Path, repo: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_graph(tmp_path, repo, {"a": {"1.0.0": []}, "t": {"1.0.0": []}, "y": {"1.0.0": []}})
    project = tmp_path / "project"
    project.mkdir()
    (project / "pipper.json").write_text('{"dependencies": ["a"], "dev_dependencies": ["t"]}')
    (project / "pipper.yaml").write_text("dependencies:\n  - y:1.*\n")
    monkeypatch.chdir(project)
    plain = cli("download", "-d", "out1", "--json", *repo)
    assert versions_of(plain.json()) == {"a": "1.0.0"}
    dev = cli("download", "--dev", "-d", "out2", "--json", *repo)
    assert versions_of(dev.json()) == {"a": "1.0.0", "t": "1.0.0"}
    yaml = cli("download", "-i", "pipper.yaml", "-d", "out3", "--json", *repo)
    assert versions_of(yaml.json()) == {"y": "1.0.0"}
    (project / "broken.json").write_text('{"dependencies": ["a",]}')
    broken = cli("download", "-i", "broken.json", *repo)
    assert broken.exit_code == 2
    assert "broken.json:1:" in broken.stderr


def test_concurrency_is_validated(tmp_path: Path, repo: list[str]) -> None:
    bad = cli("download", "a", "--concurrency", "0", *repo)
    assert bad.exit_code == 2
    env_bad = cli("download", "a", *repo, env={"PIPPER_CONCURRENCY": "lots"})
    assert env_bad.exit_code == 2
    assert "PIPPER_CONCURRENCY" in env_bad.stderr


@pytest.mark.slow
def test_extract_makes_a_find_links_folder(tmp_path: Path, repo: list[str]) -> None:
    import subprocess
    import sys

    publish_graph(tmp_path, repo, {"app_pkg": {"1.0.0": ["lib_pkg"]}, "lib_pkg": {"2.0.0": []}})
    out = tmp_path / "vendor"
    result = cli("download", "app_pkg", "-d", str(out), "--extract", *repo)
    assert result.exit_code == 0, result.stderr
    assert (out / "app_pkg-1.0.0-py3-none-any.whl").is_file()
    target = tmp_path / "target"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(out),
            "--target",
            str(target),
            "app_pkg",
        ],
        check=True,
    )
    assert (target / "lib_pkg" / "__init__.py").is_file()


def test_a_parent_gives_way_when_its_constraint_cannot_be_met(
    tmp_path: Path, repo: list[str]
) -> None:
    # http 2.0 needs utils>=2 but models needs utils<2: http falls back to 1.0.
    publish_graph(
        tmp_path,
        repo,
        {
            "app": {"1.0.0": ["models", "http"]},
            "http": {"1.0.0": ["utils"], "2.0.0": ["utils:>=2"]},
            "models": {"1.0.0": ["utils:<2"]},
            "utils": {"1.0.0": [], "2.0.0": []},
        },
    )
    result = cli("download", "app", "-d", str(tmp_path / "v"), "--json", *repo)
    assert result.exit_code == 0, result.stderr
    assert versions_of(result.json()) == {
        "app": "1.0.0",
        "models": "1.0.0",
        "http": "1.0.0",
        "utils": "1.0.0",
    }


def test_a_repository_too_large_for_one_listing_is_listed_package_by_package(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    make_proxy: MakeProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pipper.index

    monkeypatch.setattr(pipper.index, "CATALOG_KEYS", 2)
    graph: Graph = {"a": {"1.0.0": ["b"]}, "b": {"1.0.0": ["c"]}, "c": {"1.0.0": [], "2.0.0": []}}
    publish_graph(tmp_path, ["-b", bucket], graph)
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url]
    first = cli("download", "a", "-d", str(tmp_path / "1"), "--json", *repo)
    assert versions_of(first.json()) == {"a": "1.0.0", "b": "1.0.0", "c": "2.0.0"}
    assert proxy.count("list") == 1 + 3  # the truncated whole-prefix page, then one each
    (folder,) = (Path(os.environ["PIPPER_CACHE_DIR"]) / "listings").iterdir()
    runs = [p.name for p in folder.iterdir() if p.name != "@too-big.json"]
    assert len(runs) == 1 and runs[0].startswith("@run-")  # the packages' three in one file
    proxy.reset()
    second = cli("download", "a", "-d", str(tmp_path / "2"), "--json", *repo)
    assert versions_of(second.json()) == {"a": "1.0.0", "b": "1.0.0", "c": "2.0.0"}
    assert proxy.count("list") == 3  # "too large" is remembered
    offline = cli("download", "a", "-d", str(tmp_path / "3"), "--offline", "--json", *repo)
    assert versions_of(offline.json()) == {"a": "1.0.0", "b": "1.0.0", "c": "2.0.0"}


def test_a_hostile_sha256_header_never_names_a_file(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    bundles = publish_graph(tmp_path, ["-b", bucket], {"a": {"1.0.0": []}, "b": {"1.0.0": []}})
    client = s3_server.client()
    key = "pipper/a/v1-0-0.pipper"
    # blobs/sha256/<digest[:2]>/<digest> with this "digest" would be tmp_path / "victim.txt"
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=(bundles / "a-v1-0-0.pipper").read_bytes(),
        Metadata={"sha256": "../../../victim.txt"},
    )
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    cache = tmp_path / "c" / "cache"
    args = ["--cache-dir", str(cache), "-d", str(tmp_path / "v"), "-b", bucket]
    warm = cli("download", "b", *args)
    assert warm.exit_code == 0, warm.stderr  # the cache's folders exist, so ".." resolves
    result = cli("download", "a", *args)
    assert result.exit_code == 7
    assert victim.read_text() == "precious"
