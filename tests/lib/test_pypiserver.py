"""The pypiserver fixture serves the wheels tests write, as pip sees an index, and stops."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lib.pypiservers import PypiServer


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_serves_a_published_wheel_as_a_pep_503_index(pypi_server: PypiServer) -> None:
    wheel = pypi_server.publish("fixture-probe", "1.2.0")
    page = _page(f"{pypi_server.index_url}fixture-probe/")
    assert wheel.name in page
    assert "#sha256=" in page  # pip can check what it downloads


def test_a_name_it_does_not_hold_is_not_sent_elsewhere(pypi_server: PypiServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        _page(f"{pypi_server.index_url}surely-not-published-here/")
    assert info.value.code == 404  # --disable-fallback: no redirect to pypi.org


def test_pip_resolves_from_it_and_sees_later_wheels(
    pypi_server: PypiServer, tmp_path: Path
) -> None:
    pypi_server.publish("fixture-dep", "1.0.0")
    pypi_server.publish("fixture-top", "1.0.0", requires=["fixture-dep>=1"])

    def report() -> dict[str, str]:
        out = tmp_path / "report.json"
        pip = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check"]
        where = ["--index-url", pypi_server.index_url, "--report", str(out)]
        subprocess.run(
            [*pip, "install", "--dry-run", "--ignore-installed", "--quiet", *where, "fixture-top"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        items = json.loads(out.read_text())["install"]
        return {i["metadata"]["name"]: i["metadata"]["version"] for i in items}

    assert report() == {"fixture-top": "1.0.0", "fixture-dep": "1.0.0"}
    pypi_server.publish("fixture-dep", "1.1.0")
    assert report() == {"fixture-top": "1.0.0", "fixture-dep": "1.1.0"}


def test_a_stopped_server_refuses_connections(
    make_pypi_server: Callable[[], PypiServer],
) -> None:
    server = make_pypi_server()
    assert _page(f"{server.url}/health")
    server.stop()
    assert not server.alive()
    with pytest.raises(urllib.error.URLError):
        _page(f"{server.url}/health")
