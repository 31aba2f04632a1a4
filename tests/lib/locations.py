"""The two kinds of repository a behaviour must hold on: a bucket on the real S3 server, and a
local directory. Tests that take ``location`` (or ``repo``) run once for each."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(name="location", params=["s3", "local"])
def location_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh bucket on the real S3 server, or a fresh local directory repository."""
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        return str(request.getfixturevalue("bucket"))
    return str(tmp_path / "repo")


@pytest.fixture(name="repo")
def repo_fixture(location: str) -> list[str]:
    """The repository options for ``location``."""
    return ["-b", location]
