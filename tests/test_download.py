"""``pipper download`` against a real S3 server: resolution shapes, cache, offline, output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MakeProxy
from tests.helpers import cli, publish_graph
from tests.s3servers import S3Server


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
    assert all(p["source"] == "network" for p in data["packages"])  # type: ignore[index]


def test_warm_run_fetches_no_body_and_offline_makes_no_request(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    graph = {"a": {"1.0.0": ["b"]}, "b": {"1.0.0": ["c"], "0.9.0": []}, "c": {"2.0.0": []}}
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
    assert proxy.count("list") == 3
    assert {p["source"] for p in warm.json()["packages"]} == {"cache"}  # type: ignore[index]

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
