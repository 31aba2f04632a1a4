"""``pipper delete`` and ``pipper prune-releases`` on a real S3 server and a local directory.

Removal asks first: on a terminal (driven here through a real pseudo-terminal and a real
process), never without one unless ``--yes``. Retention keeps the newest N versions and never
the newest final release.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from pipper.context import CommandContext
from pipper.errors import UsageError, VersionExistsError
from pipper.models import Candidate
from pipper.releases import Release, delete_release, find_release, plan_retention
from pipper.repositories import Repository, resolve_repository
from pipper.storage.base import ObjectInfo
from tests.lib.cli import REPO_ROOT, Graph, cli, publish_graph
from tests.lib.wheels import make_bundle


def repository_at(location: str) -> Repository:
    return resolve_repository(
        bucket=location, root_prefix=None, repository=None, endpoint_url=None, region=None
    )


def keys_in(location: str) -> list[str]:
    """Every key of bundles and markers in the repository, as the store lists them (the simple
    index's own keys, under ``~simple/``, are tests/system/test_simple_index.py's)."""

    async def go() -> list[str]:
        async with CommandContext().open_storage(repository_at(location)) as storage:
            keys = (o.key for o in (await storage.list("")).objects)
            return sorted(key for key in keys if "/~simple/" not in key)

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
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "NO_COLOR": "1"}  # plain text to match
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
    assert [p["name"] for p in listed] == ["other"]
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
        async with CommandContext().open_storage(repository) as storage:
            return await find_release(storage, repository, "lib", "1.0.0")

    async def delete(release: Release) -> None:
        async with CommandContext().open_storage(repository) as storage:
            await delete_release(storage, release, repository=repository)

    release = anyio.run(listed)
    # Someone publishes other bytes under the same key before the delete lands.
    again = make_bundle(tmp_path / "again", "lib", "1.0.0", payload_size=5000)
    assert cli("publish", str(again), "--force", *repo).exit_code == 0
    with pytest.raises(VersionExistsError, match="changed in the repository since"):
        anyio.run(delete, release)
    assert keys_in(location) == ["pipper/lib/v1-0-0.pipper"]


# -- retention ------------------------------------------------------------------------------------

RELEASES: Graph = {
    "p": {v: [] for v in ("1.0.0", "1.1.0", "1.2.0", "2.0.0a1", "2.0.0b1", "2.0.0rc1")}
}


def test_prune_keeps_n_and_the_newest_final_release(
    tmp_path: Path, location: str, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, RELEASES)
    assert cli("yank", "p", "1.2.0", *repo).exit_code == 0

    dry = cli("prune-releases", "p", "--keep", "2", "--dry-run", *repo)
    assert dry.exit_code == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "keeping p 1.2.0: the newest final release",
        "keeping p 1.1.0: the newest final release not yanked",
        f"would remove p 2.0.0a1 (pipper/p/v2-0-0__pre_a1.pipper, published {today()})",
        f"would remove p 1.0.0 (pipper/p/v1-0-0.pipper, published {today()})",
    ]
    assert "Would remove 2 versions, kept 4" in dry.stderr
    assert len(versions_of(repo, "p")) == 6  # a dry run removes nothing

    # Everything is younger than a day: --older-than spares it all.
    young = cli("prune-releases", "p", "--keep", "2", "--older-than", "1", "--yes", *repo)
    assert young.exit_code == 0, young.stderr
    assert "Removed 0 versions, kept 6" in young.stderr
    assert len(versions_of(repo, "p")) == 6

    done = cli("prune-releases", "p", "--keep", "2", "--older-than", "0", "--yes", *repo)
    assert done.exit_code == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("removed")] == [
        f"removed p 2.0.0a1 (pipper/p/v2-0-0__pre_a1.pipper, published {today()})",
        f"removed p 1.0.0 (pipper/p/v1-0-0.pipper, published {today()})",
    ]
    assert versions_of(repo, "p") == ["2.0.0rc1", "2.0.0b1", "1.2.0", "1.1.0"]
    assert "pipper/p/v1-2-0.yanked" in keys_in(location)  # a kept version keeps its yank

    # Once the yanked 1.2.0 is deleted, keep 1 leaves the rc and 1.1.0 (the newest final).
    assert cli("delete", "p", "1.2.0", "--yes", *repo).exit_code == 0
    last = cli("prune-releases", "p", "--keep", "1", "--yes", *repo)
    assert last.exit_code == 0, last.stderr
    assert versions_of(repo, "p") == ["2.0.0rc1", "1.1.0"]
    assert not any(key.endswith(".yanked") for key in keys_in(location))


def test_prune_asks_on_a_terminal_and_refuses_without_one(
    tmp_path: Path, location: str, repo: list[str]
) -> None:
    publish_graph(tmp_path, repo, {"p": {"1.0.0": [], "2.0.0": []}, "q": {"1.0.0": []}})
    refused = cli("prune-releases", "p", "q", "--keep", "1", *repo)
    assert refused.exit_code == 2
    assert "stdin is not a terminal: pass --yes" in refused.stderr
    assert len(keys_in(location)) == 3

    code, shown = on_terminal(["prune-releases", "p", "q", "--keep", "1", *repo], b"y\n")
    assert code == 0, shown
    assert "will remove p 1.0.0" in shown
    assert "Remove these 1 versions from" in shown
    assert "removed p 1.0.0" in shown
    assert keys_in(location) == ["pipper/p/v2-0-0.pipper", "pipper/q/v1-0-0.pipper"]


def test_prune_errors_are_one_line(tmp_path: Path, repo: list[str]) -> None:
    publish_graph(tmp_path, repo, {"p": {"1.0.0": []}})
    ghost = cli("prune-releases", "p", "ghost", "--keep", "1", "--yes", *repo)
    assert ghost.exit_code == 3
    assert ghost.stderr.strip().splitlines()[-1].startswith("error: package ghost was not found")
    bad = cli("prune-releases", "../x", "--keep", "1", "--yes", *repo)
    assert bad.exit_code == 2
    assert bad.stderr.strip().startswith("error: package name '../x'")
    assert cli("prune-releases", "p", "--keep", "0", "--yes", *repo).exit_code == 2
    assert cli("prune-releases", "p", "--yes", *repo).exit_code == 2  # --keep is required
    assert versions_of(repo, "p") == ["1.0.0"]


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


# -- the plan alone -------------------------------------------------------------------------------


def candidate(version: str, age_days: float | None, *, yanked: bool = False) -> Candidate:
    when = datetime(2026, 6, 1, tzinfo=UTC) - timedelta(days=age_days) if age_days else None
    return Candidate(
        name="p",
        version=version,
        key=f"pipper/p/{version}.pipper",
        size=1,
        etag=version,
        last_modified=when,
        yank=ObjectInfo(f"pipper/p/{version}.yanked", 1, "m") if yanked else None,
    )


def plan(candidates: Sequence[Candidate], **kwargs: Any) -> tuple[list[str], list[str]]:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    result = plan_retention(candidates, now=now, **kwargs)
    return [r.version for r in result.keep], [r.version for r in result.remove]


def test_the_plan_orders_by_version_and_judges_age_by_every_key() -> None:
    versions = [
        candidate("1.0.0", 400),
        candidate("3.0.0", 10),
        candidate("2.0.0", 100),
        candidate("4.0.0b1", 1),
        candidate("1.5.0", None),  # age unknown: kept whenever age matters
    ]
    assert plan(versions, keep=1) == (["4.0.0b1", "3.0.0"], ["2.0.0", "1.5.0", "1.0.0"])
    assert plan(versions, keep=1, older_than=timedelta(days=90)) == (
        ["4.0.0b1", "3.0.0", "1.5.0"],
        ["2.0.0", "1.0.0"],
    )
    assert plan(versions, keep=1, older_than=timedelta(days=365)) == (
        ["4.0.0b1", "3.0.0", "2.0.0", "1.5.0"],
        ["1.0.0"],
    )
    # Two keys spelling one version are one release, kept or removed together.
    twice = [candidate("1.0", 400), candidate("1.0.0", 400), candidate("2.0.0", 1)]
    result = plan_retention(twice, keep=1)
    assert [len(r.candidates) for r in result.remove] == [2]
    with pytest.raises(UsageError):
        plan_retention(versions, keep=0)


def test_the_plan_never_removes_the_newest_final_release() -> None:
    only_pre = [candidate("1.0.0a1", 9), candidate("1.0.0a2", 9)]
    assert plan(only_pre, keep=1) == (["1.0.0a2"], ["1.0.0a1"])
    yanked_top = [candidate("1.0.0", 9), candidate("2.0.0", 9, yanked=True), candidate("3.0a1", 9)]
    assert plan(yanked_top, keep=1) == (["3.0a1", "2.0.0", "1.0.0"], [])
