"""``pipper tree`` of a graph with public packages: pip's choice, marked public, under who required
it, with no private bundle and no public wheel brought into the cache to draw it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipper.cli.output import human_size
from pipper.tree import REPEATED_NOTE
from tests.lib.cli import cli
from tests.lib.files import cache_blobs
from tests.lib.proxy import MakeProxy
from tests.lib.pypiservers import PypiServer
from tests.lib.wheels import make_bundle

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_installers")]


def test_public_packages_are_marked_and_not_fetched(
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    make_proxy: MakeProxy,
    pypi_server: PypiServer,
) -> None:
    pypi_server.publish("treepubdep", "1.0.0")
    pypi_server.publish("treepubdep", "2.0.0")
    pypi_server.publish("treepubtop", "3.0.0", requires=["treepubdep>=1"])
    bundles = tmp_path / "bundles"
    make_bundle(bundles, "lib", "1.0.0", requires=["treepubdep<2"])
    make_bundle(bundles, "app", "1.0.0", requires=["lib>=1", "treepubtop"])
    proxy = make_proxy()
    repo = ["-b", bucket, "--endpoint-url", proxy.url]
    published = cli("publish", str(bundles), *repo)
    assert published.exit_code == 0, published.stderr
    proxy.reset()

    index = ["--index-url", pypi_server.index_url]
    result = cli("tree", "app", *repo, *index)
    assert result.exit_code == 0, result.stderr

    def size(name: str) -> str:
        return human_size((bundles / f"{name}-v1-0-0.pipper").stat().st_size)

    assert result.stdout.splitlines() == [
        f"app 1.0.0 (network, {size('app')})",
        f"├── lib 1.0.0 (network, {size('lib')})",
        "│   └── treepubdep 1.0.0 (public, network)",
        "└── treepubtop 3.0.0 (public, network)",
        "    └── treepubdep 1.0.0 (*)",
        REPEATED_NOTE,
    ]
    assert proxy.count("get") == 0
    assert cache_blobs(tmp_path / "pipper-cache") == []
    assert "4 packages (2 public): 0 in the cache, 4 from the network" in result.stderr

    # Once downloaded, every line says cache, and the public wheels have their sizes.
    vendor = tmp_path / "vendor"
    downloaded = cli("download", "app", "-d", str(vendor), *repo, *index)
    assert downloaded.exit_code == 0, downloaded.stderr
    warm = cli("tree", "app", *repo, *index)
    dep = human_size(next(vendor.glob("treepubdep-1.0.0-*.whl")).stat().st_size)
    top = human_size(next(vendor.glob("treepubtop-3.0.0-*.whl")).stat().st_size)
    assert warm.stdout.splitlines()[2:4] == [
        f"│   └── treepubdep 1.0.0 (public, cache, {dep})",
        f"└── treepubtop 3.0.0 (public, cache, {top})",
    ]
    inverted = cli("tree", "app", "--invert", "treepubdep", *repo, *index)
    assert inverted.stdout.splitlines() == [
        f"treepubdep 1.0.0 (public, cache, {dep})",
        f"├── lib 1.0.0 (cache, {size('lib')})",
        f"│   └── app 1.0.0 (requested, cache, {size('app')})",
        f"└── treepubtop 3.0.0 (public, cache, {top})",
        "    └── app 1.0.0 (*)",
        REPEATED_NOTE,
    ]
    private = cli("tree", "app", "--private-only", *repo)
    assert private.stdout.splitlines() == [f"app 1.0.0 (cache, {size('app')})"]
