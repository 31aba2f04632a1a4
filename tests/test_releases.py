"""``pipper delete`` on a real S3 server and a local directory.

Removal asks first: on a terminal (driven here through a real pseudo-terminal and a real
process), never without one unless ``--yes``.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from pipper.config import Repository, resolve_repository
from pipper.errors import VersionExistsError
from pipper.releases import Release, delete_release, find_release
from pipper.storage import open_storage
from tests.helpers import REPO_ROOT, cli, publish_graph
from tests.test_prereleases import location_fixture, repo_fixture  # noqa: F401
from tests.wheels import make_bundle


def repository_at(location: str) -> Repository:
    return resolve_repository(
        bucket=location, root_prefix=None, repository=None, endpoint_url=None, region=None
    )


def keys_in(location: str) -> list[str]:
    """Every key in the repository, markers included, as the store lists them."""

    async def go() -> list[str]:
        async with open_storage(repository_at(location)) as storage:
            return sorted(o.key for o in (await storage.list("")).objects)

    return anyio.run(go)


def versions_of(repo: Sequence[str], name: str) -> list[str]:
    result = cli("info", name, "--json", *repo)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    return [v["version"] for v in data["versions"]]


def on_terminal(args: Sequence[str], answer: bytes | None) -> tuple[int, str]:
    """Run ``pipper ARGS`` as a process whose stdin, stdout and stderr are a pseudo-terminal.

    With ``answer``, wait for the confirmation prompt, then type it. Returns the exit code and
    everything the terminal showed.
    """
    master, slave = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipper", *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + 120

    def read_until(done: bytes | None) -> None:
        while done is None or done not in shown:
            assert time.monotonic() < deadline, shown.decode(errors="replace")
            ready, _, _ = select.select([master], [], [], deadline - time.monotonic())
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the process closed the terminal
                chunk = b""
            if not chunk:
                assert done is None, f"no {done!r} in: {shown.decode(errors='replace')}"
                return
            shown.extend(chunk)

    try:
        if answer is not None:
            read_until(b"[y/N]")
            os.write(master, answer)
        read_until(None)
        code = process.wait(timeout=60)
    finally:
        os.close(master)
    return code, shown.decode(errors="replace").replace("\r\n", "\n")


# -- delete ---------------------------------------------------------------------------------------


def test_delete_with_yes_removes_the_version_and_its_yank_marker(
    tmp_path: Path, location: str, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, {"lib": {"1.0.0": [], "1.1.0": []}})
    assert cli("yank", "lib", "1.1.0", "--reason", "bad", *repo).exit_code == 0
    assert "pipper/lib/v1-1-0.yanked" in keys_in(location)

    result = cli("delete", "lib", "1.1.0", "--yes", *repo)
    assert result.exit_code == 0, result.stderr
    assert "Deleted lib 1.1.0 from" in result.stderr
    assert "only version" not in result.stderr
    assert keys_in(location) == ["pipper/lib/v1-0-0.pipper"]
    assert versions_of(repo, "lib") == ["1.0.0"]

    gone = cli("delete", "lib", "1.1.0", "-y", *repo)
    assert gone.exit_code == 3
    assert gone.stderr.strip() == (
        f"error: lib 1.1.0 is not in {repository_at(location).describe()} (it has 1.0.0)"
    )


def test_delete_says_when_it_removed_the_only_version(
    tmp_path: Path, location: str, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, {"solo": {"1.0.0": []}, "other": {"2.0.0": []}})
    result = cli("delete", "solo", "1.0.0", "--yes", *repo)
    assert result.exit_code == 0, result.stderr
    assert "That was the only version: solo is no longer in the repository" in result.stderr
    listed = cli("list", "--json", *repo).json()
    assert [p["name"] for p in listed] == ["other"]  # type: ignore[union-attr]
    missing = cli("info", "solo", *repo)
    assert missing.exit_code == 3


def test_delete_without_yes_refuses_when_stdin_is_not_a_terminal(
    tmp_path: Path, location: str, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, {"lib": {"1.0.0": []}})
    result = cli("delete", "lib", "1.0.0", *repo)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: pipper delete asks for confirmation and stdin is not a terminal: pass --yes"
    )
    assert keys_in(location) == ["pipper/lib/v1-0-0.pipper"]


def test_delete_on_a_terminal_asks_and_does_only_what_it_is_told(
    tmp_path: Path, location: str, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, {"lib": {"1.0.0": []}})
    where = repository_at(location).describe()

    code, shown = on_terminal(["delete", "lib", "1.0.0", *repo], b"n\n")
    assert code == 1, shown
    assert (
        f"Delete lib 1.0.0 (pipper/lib/v1-0-0.pipper) from {where}; "
        "it is the only version of lib? [y/N]"
    ) in shown
    assert "error: not confirmed: nothing was removed" in shown
    assert keys_in(location) == ["pipper/lib/v1-0-0.pipper"]

    code, shown = on_terminal(["delete", "lib", "1.0.0", *repo], b"y\n")
    assert code == 0, shown
    assert "Deleted lib 1.0.0" in shown
    assert "That was the only version" in shown
    assert keys_in(location) == []

    # --yes on a terminal asks nothing.
    (tmp_path / "second").mkdir()
    publish_graph(tmp_path / "second", repo, {"lib": {"2.0.0": []}})
    code, shown = on_terminal(["delete", "lib", "2.0.0", "--yes", *repo], None)
    assert code == 0, shown
    assert "[y/N]" not in shown
    assert keys_in(location) == []


def test_delete_never_removes_a_version_published_again_since_it_was_listed(
    tmp_path: Path, location: str, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, {"lib": {"1.0.0": []}})
    repository = repository_at(location)

    async def listed() -> Release:
        async with open_storage(repository) as storage:
            return await find_release(storage, repository, "lib", "1.0.0")

    async def delete(release: Release) -> None:
        async with open_storage(repository) as storage:
            await delete_release(storage, release)

    release = anyio.run(listed)
    # Someone publishes other bytes under the same key before the delete lands.
    again = make_bundle(tmp_path / "again", "lib", "1.0.0", payload_size=5000)
    assert cli("publish", str(again), "--force", *repo).exit_code == 0
    with pytest.raises(VersionExistsError, match="changed in the repository since"):
        anyio.run(delete, release)
    assert keys_in(location) == ["pipper/lib/v1-0-0.pipper"]
