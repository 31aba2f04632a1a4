"""``pipper tree`` against a real S3 server: the exact tree, no bundle body fetched, the cache and
the network told apart, ``--offline``, ``--lock``, ``--depth``, ``--invert``, ``--json`` and
colour on a terminal only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipper.cli.output import human_size
from pipper.tree import REPEATED_NOTE
from tests.lib.cli import Graph, PtyProcess, cli, publish_graph
from tests.lib.files import cache_blobs
from tests.lib.proxy import MakeProxy, Proxy

DIAMOND: Graph = {
    "top": {"1.0.0": ["left", "right"]},
    "left": {"1.0.0": ["base:>=1.0"]},
    "right": {"1.0.0": ["base:<3"]},
    "base": {"1.0.0": [], "2.0.0": [], "3.0.0": []},
}


class Published:
    """A graph in a bucket reached through a proxy, and the size of each bundle."""

    def __init__(self, tmp_path: Path, bucket: str, proxy: Proxy, graph: Graph) -> None:
        self.bundles = publish_graph(tmp_path, ["-b", bucket], graph)
        self.proxy = proxy
        self.repo = ["-b", bucket, "--endpoint-url", proxy.url]
        self.cache = tmp_path / "pipper-cache"

    def size(self, name: str, version: str) -> str:
        path = self.bundles / f"{name}-v{version.replace('.', '-')}.pipper"
        return human_size(path.stat().st_size)

    def line(self, lead: str, name: str, version: str, source: str, extra: str = "") -> str:
        return f"{lead}{name} {version} ({extra}{source}, {self.size(name, version)})"


@pytest.fixture
def diamond(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> Published:
    return Published(tmp_path, bucket, make_proxy(), DIAMOND)


def diamond_lines(world: Published, source: str) -> list[str]:
    line = world.line
    return [
        line("", "top", "1.0.0", source),
        line("├── ", "left", "1.0.0", source),
        line("│   └── ", "base", "2.0.0", source),
        line("└── ", "right", "1.0.0", source),
        "    └── base 2.0.0 (*)",
        REPEATED_NOTE,
    ]


def test_a_diamond_is_drawn_from_the_metadata_alone(diamond: Published) -> None:
    result = cli("tree", "top", *diamond.repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == diamond_lines(diamond, "network")
    # One listing, one HEAD per package, and not one body: nothing came into the cache.
    assert diamond.proxy.count("get") == 0
    assert diamond.proxy.count("head") == 4
    assert cache_blobs(diamond.cache) == []
    assert "4 packages: 0 in the cache, 4 from the network" in result.stderr

    downloaded = cli("download", "top", "-d", str(diamond.cache.parent / "vendor"), *diamond.repo)
    assert downloaded.exit_code == 0, downloaded.stderr
    diamond.proxy.reset()
    warm = cli("tree", "top", *diamond.repo)
    assert warm.stdout.splitlines() == diamond_lines(diamond, "cache")
    assert diamond.proxy.count("get") == diamond.proxy.count("head") == 0
    assert "4 packages: 4 in the cache, 0 from the network" in warm.stderr


def test_offline_from_a_warm_cache_makes_no_request(diamond: Published) -> None:
    cold = cli("tree", "top", "--offline", *diamond.repo)
    assert cold.exit_code == 9
    assert cold.stderr.count("\n") == 1 and cold.stderr.startswith("error: ")
    warmed = cli("cache", "warm", "top", *diamond.repo)
    assert warmed.exit_code == 0, warmed.stderr
    diamond.proxy.reset()
    result = cli("tree", "top", "--offline", *diamond.repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == diamond_lines(diamond, "cache")
    assert diamond.proxy.count("all") == 0


def test_a_lock_is_drawn_with_no_request_and_no_repository(
    diamond: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "pipper.lock"
    locked = cli("lock", "top", "-o", str(lock), *diamond.repo)
    assert locked.exit_code == 0, locked.stderr
    diamond.proxy.reset()
    diamond.proxy.stop()
    monkeypatch.chdir(tmp_path)
    # Locking fetched the bundles: the lock's tree finds them in the cache.
    result = cli("tree", "--lock", str(lock))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == diamond_lines(diamond, "cache")
    empty = cli("tree", "--lock", str(lock), "--cache-dir", str(tmp_path / "empty-cache"))
    assert empty.stdout.splitlines() == diamond_lines(diamond, "network")
    assert diamond.proxy.count("all") == 0
    clash = cli("tree", "top", "--lock", str(lock))
    assert clash.exit_code == 2
    assert clash.stderr.startswith("error: --lock fetches exactly the lock's packages")


def test_invert_shows_the_two_chains_to_a_package(diamond: Published) -> None:
    result = cli("tree", "top", "--invert", "BASE", *diamond.repo)
    assert result.exit_code == 0, result.stderr
    line = diamond.line
    assert result.stdout.splitlines() == [
        line("", "base", "2.0.0", "network"),
        line("├── ", "left", "1.0.0", "network"),
        line("│   └── ", "top", "1.0.0", "network", "requested, "),
        line("└── ", "right", "1.0.0", "network"),
        "    └── top 1.0.0 (*)",
        REPEATED_NOTE,
    ]
    missing = cli("tree", "top", "--invert", "nope", *diamond.repo)
    assert missing.exit_code == 3
    assert missing.stdout == ""
    assert missing.stderr.splitlines() == [
        "error: nope is not in the graph (4 packages); 'pipper tree' with the same ids shows "
        "them all"
    ]


def test_depth_and_json(diamond: Published) -> None:
    shallow = cli("tree", "top", "--depth", "1", *diamond.repo)
    assert shallow.exit_code == 0, shallow.stderr
    assert shallow.stdout.splitlines() == [
        diamond.line("", "top", "1.0.0", "network"),
        diamond.line("├── ", "left", "1.0.0", "network"),
        diamond.line("└── ", "right", "1.0.0", "network"),
    ]
    bad = cli("tree", "top", "--depth", "-1", *diamond.repo)
    assert bad.exit_code == 2

    result = cli("tree", "top", "--json", *diamond.repo)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert (data["invert"], data["depth"]) == (None, None)
    (top,) = data["tree"]
    assert (top["name"], top["version"], top["requested"]) == ("top", "1.0.0", True)
    left, right = top["dependencies"]
    (base,) = left["dependencies"]
    assert base["size"] == (diamond.bundles / "base-v2-0-0.pipper").stat().st_size
    assert (base["source"], base["public"], base["dependencies"]) == ("network", False, [])
    assert right["dependencies"] == [
        {
            "name": "base",
            "version": "2.0.0",
            "public": False,
            "requested": False,
            "source": "network",
            "size": base["size"],
            "shown_above": True,
        }
    ]
    assert result.stderr == ""  # --json: no progress, no summary


def test_a_cycle_through_the_cli(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    graph: Graph = {"a": {"1.0": ["b"]}, "b": {"1.0": ["c"]}, "c": {"1.0": ["a"]}}
    world = Published(tmp_path, bucket, make_proxy(), graph)
    result = cli("tree", "a", *world.repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        world.line("", "a", "1.0", "network"),
        world.line("└── ", "b", "1.0", "network"),
        world.line("    └── ", "c", "1.0", "network"),
        "        └── a 1.0 (*)",
        REPEATED_NOTE,
    ]


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_colour_on_a_terminal_only(diamond: Published, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    piped = cli("tree", "top", *diamond.repo)
    assert "\x1b" not in piped.stdout
    args = ["tree", "top", "--no-progress", "-q", *diamond.repo]
    terminal = PtyProcess(args)
    assert terminal.wait() == 0, terminal.text
    assert "\x1b[1mtop\x1b[0m 1.0.0" in terminal.text
    assert ANSI.sub("", terminal.text).replace("\r", "").splitlines() == diamond_lines(
        diamond, "network"
    )
    plain = PtyProcess(args, {"NO_COLOR": "1"})
    assert plain.wait() == 0, plain.text
    assert "\x1b[" not in plain.text and "top 1.0.0" in plain.text
    forced = cli("tree", "top", "--color", "always", *diamond.repo)
    assert "\x1b[1mtop\x1b[0m 1.0.0" in forced.stdout
