"""No secret access key or session token in any output, log, error message or ``--debug`` traceback.

Every command runs as a real process, as a user would run it, with known fake secrets given
every way pipper accepts them (``-c``, ``AWS_*``, ``PIPPER_AWS_*``, a saved repository), against
the real server (which refuses them), an unreachable endpoint, and with bad input, with and
without ``--debug``. Then stdout, stderr and every file the runs wrote are searched for them.
The repositories file may hold a secret given with ``-c``: that is what it is for, and it is
private (0600).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.lib.cli import REPO_ROOT, publish_graph
from tests.lib.s3servers import S3Server, free_port
from tests.lib.wheels import make_bundle

KEY = "AKIAFAKEKEY000000001"
SECRET = "SECRETfakeSECRET1234567890abcd"
TOKEN = "TOKENfakeTOKEN0987654321"
FAKES = ("-c", KEY, SECRET, TOKEN)


@dataclass(frozen=True)
class Run:
    label: str
    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    debug: bool = True


@dataclass(frozen=True)
class Ran:
    run: Run
    returncode: int
    output: str


def _execute(run: Run, base_env: Mapping[str, str], cwd: Path) -> Ran:
    env = {**base_env, **run.env, "PYTHONPATH": str(REPO_ROOT)}
    argv = [sys.executable, "-m", "pipper", *(["--debug"] if run.debug else []), *run.args]
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return Ran(run, proc.returncode, proc.stdout + proc.stderr)


def _run_all(runs: Sequence[Run], base_env: Mapping[str, str], cwd: Path) -> list[Ran]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda r: _execute(r, base_env, cwd), runs))


def _assert_nothing_leaked(results: Sequence[Ran], *secrets: str) -> None:
    leaks = [
        (ran.run.label, secret, ran.output)
        for ran in results
        for secret in secrets
        if secret in ran.output
    ]
    assert leaks == [], leaks[0]


def _assert_no_file_holds(root: Path, *secrets: str, allowed: Sequence[Path] = ()) -> None:
    for path in root.rglob("*"):
        if not path.is_file() or path in allowed:
            continue
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{path} holds a secret"


def _registered_commands() -> set[str]:
    import typer.main

    from pipper.cli import app

    found: set[str] = set()

    def walk(group: object, prefix: str) -> None:
        for name, command in getattr(group, "commands", {}).items():
            if hasattr(command, "commands"):
                walk(command, f"{prefix}{name} ")
            else:
                found.add(f"{prefix}{name}")

    walk(typer.main.get_command(app), "")
    return found


@pytest.fixture
def world(tmp_path: Path, bucket: str, s3_env: dict[str, str]) -> dict[str, Path | str]:
    """A published package, a bundle to publish, and a closed port for an unreachable endpoint."""
    publish_graph(tmp_path, ["-b", bucket], {"a": {"1.0.0": []}})
    bundle = make_bundle(tmp_path / "new", "fresh", "1.0.0")
    return {"bucket": bucket, "bundle": bundle, "dead": f"http://127.0.0.1:{free_port()}"}


def _commands_with_credentials(
    tmp_path: Path, bucket: str, bundle: Path, how: Sequence[str]
) -> dict[str, list[str]]:
    """Every command that talks to a repository, given credentials ``how``."""
    repo = ["-b", bucket, *how]
    cache = ["--cache-dir", str(tmp_path / "cache")]
    return {
        "download": ["download", "a", "-d", str(tmp_path / "out"), *cache, *repo],
        "info": ["info", "a", *repo],
        "list": ["list", *repo],
        "publish": ["publish", str(bundle), *repo],
        "install": ["install", "a", "--dry-run", "-t", str(tmp_path / "target"), *cache, *repo],
        "lock": ["lock", "a", "-o", str(tmp_path / "pipper.lock"), *cache, *repo],
        "tree": ["tree", "a", *cache, *repo],
        "authorize": ["authorize", "a", "-o", str(tmp_path / "urls.json"), *cache, *repo],
        "authorize --find-links": [
            "authorize",
            "a",
            "--find-links",
            str(tmp_path / "l.html"),
            *repo,
        ],
        "index check": ["index", "check", *repo],
        "index rebuild": ["index", "rebuild", *repo],
        "cache warm": ["cache", "warm", "a", *cache, *repo],
        "demo": ["demo", "-d", str(tmp_path / "demo"), *repo],
        "yank": ["yank", "a", "1.0.0", "--reason", "test", *repo],
        "unyank": ["unyank", "a", "1.0.0", *repo],
        "delete": ["delete", "a", "1.0.0", "--yes", *repo],
        "prune-releases": ["prune-releases", "a", "--keep", "1", "--yes", *repo],
    }


def _commands_without_credentials(tmp_path: Path) -> dict[str, list[str]]:
    cache = ["--cache-dir", str(tmp_path / "cache")]
    return {
        "bundle": ["bundle", str(tmp_path / "no-such-project"), "-o", str(tmp_path / "dist")],
        "cache dir": ["cache", "dir", *cache],
        "cache info": ["cache", "info", *cache],
        "cache verify": ["cache", "verify", *cache],
        "cache prune": ["cache", "prune", "--all", *cache],
        "completion": ["completion", "bash"],
        "config": ["config", *cache],  # it reaches no store, so the -c runs would not be refused
        "index url": ["index", "url", "-b", "some-bucket"],  # nor does this one
    }


REPOSITORY_COMMANDS = {
    "repository add",
    "repository modify",
    "repository list",
    "repository exists",
    "repository remove",
}


def test_every_command_is_covered() -> None:
    """A command added later must be added to this module's tables too."""
    covered = set(_commands_with_credentials(Path(), "b", Path(), ()))
    covered |= set(_commands_without_credentials(Path())) | REPOSITORY_COMMANDS
    missing = _registered_commands() - covered
    assert missing == set(), f"add these commands to test_secrets.py: {sorted(missing)}"


@pytest.mark.slow
def test_no_command_prints_a_secret(
    tmp_path: Path, world: dict[str, Path | str], s3_env: dict[str, str], s3_server: S3Server
) -> None:
    bucket, bundle, dead = str(world["bucket"]), Path(world["bundle"]), str(world["dead"])
    registered = _registered_commands()
    runs: list[Run] = []

    # Fake keys on the command line, refused by the server: with and without --debug.
    for label, args in _commands_with_credentials(tmp_path, bucket, bundle, FAKES).items():
        if label in registered:
            runs += [Run(f"-c {label}", args), Run(f"-c {label} (plain)", args, debug=False)]
    # The same keys from the environment, both spellings.
    for prefix in ("AWS_", "PIPPER_AWS_"):
        env = {
            f"{prefix}ACCESS_KEY_ID": KEY,
            f"{prefix}SECRET_ACCESS_KEY": SECRET,
            f"{prefix}SESSION_TOKEN": TOKEN,
        }
        for label, args in _commands_with_credentials(tmp_path, bucket, bundle, ()).items():
            if label in ("download", "publish", "info", "list"):
                runs.append(Run(f"{prefix}* {label}", args, env))
    # An endpoint nobody answers, and presigned-looking URLs with the secrets in their query:
    # one nobody answers, one the server refuses.
    query = f"X-Amz-Credential={KEY}&X-Amz-Security-Token={TOKEN}&X-Amz-Signature={SECRET}"
    key = "pipper/a/v1-0-0.pipper"
    out = ["-d", str(tmp_path / "u")]
    dead_repo = ["-b", bucket, "--endpoint-url", dead, *FAKES]
    runs += [
        Run("unreachable download", ["download", "a", *dead_repo]),
        Run("unreachable publish", ["publish", str(bundle), *dead_repo]),
        Run("dead url id", ["download", f"{dead}/{bucket}/{key}?{query}", *out]),
        Run(
            "refused url id", ["download", f"{s3_server.endpoint_url}/{bucket}/{key}?{query}", *out]
        ),
        # Bad input after good-looking credentials; a malformed -c.
        Run("bad id", ["download", "../evil", "-b", bucket, *FAKES]),
        Run("half -c", ["download", "a", "-b", bucket, "-c", KEY, SECRET]),
        Run("empty -c", ["info", "a", "-b", bucket, "-c", "", SECRET, TOKEN]),
    ]
    # Commands that need no credentials, with the secrets in their environment anyway.
    secret_env = {"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN}
    for label, args in _commands_without_credentials(tmp_path).items():
        runs.append(Run(label, args, secret_env))

    results = _run_all(runs, os.environ, tmp_path)
    refused = [r for r in results if r.run.label.startswith(("-c ", "AWS_", "PIPPER_AWS_"))]
    # The server did refuse: each of these exercised an error path, not a happy one.
    assert all(r.returncode == 5 for r in refused), [
        (r.run.label, r.returncode, r.output[-300:]) for r in refused if r.returncode != 5
    ]
    unreachable = [r for r in results if r.run.label.startswith("unreachable")]
    assert all(r.returncode == 6 for r in unreachable), unreachable
    debugged = [r for r in results if r.run.debug and r.returncode != 0]
    assert any("Traceback" in r.output for r in debugged)
    _assert_nothing_leaked(results, SECRET, TOKEN)
    _assert_no_file_holds(tmp_path, SECRET, TOKEN)


def test_saved_credentials_stay_in_the_private_repositories_file(
    tmp_path: Path, world: dict[str, Path | str], s3_server: S3Server
) -> None:
    bucket = str(world["bucket"])
    endpoint = ["--endpoint-url", s3_server.endpoint_url]
    steps = [
        Run("add", ["repository", "add", "team", "-b", bucket, *endpoint, *FAKES, "--default"]),
        Run("list", ["repository", "list"]),
        Run("list --json", ["repository", "list", "--json"]),
        Run("exists", ["repository", "exists", "team"]),
        Run("download -r", ["download", "a", "-r", "team", "-d", str(tmp_path / "o")]),
        Run("download (default)", ["download", "a", "-d", str(tmp_path / "o")]),
        Run("info (default)", ["info", "a"], debug=False),
        Run("modify", ["repository", "modify", "team", "-c", KEY, SECRET + "2", TOKEN + "2"]),
        Run("list again", ["repository", "list"]),
        Run("download again", ["download", "a", "-r", "team", "-d", str(tmp_path / "o")]),
        Run("remove", ["repository", "remove", "team"]),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ACCESS", "AWS_SECRET"))}
    results: list[Ran] = []
    repositories = Path(os.environ["PIPPER_HOME"]) / "repositories.json"
    for step in steps:
        results.append(_execute(step, env, tmp_path))
        if step.label == "add":
            assert results[-1].returncode == 0, results[-1].output
            assert SECRET in repositories.read_text()
            assert repositories.stat().st_mode & 0o777 == 0o600
    by_label = {r.run.label: r for r in results}
    assert by_label["download -r"].returncode == 5  # the saved fake keys were used, and refused
    assert by_label["download (default)"].returncode == 5
    assert by_label["remove"].returncode == 0
    _assert_nothing_leaked(results, SECRET, TOKEN)
    _assert_no_file_holds(tmp_path, SECRET, TOKEN, allowed=[repositories])


def test_the_servers_real_secret_never_shows_on_success(
    tmp_path: Path, world: dict[str, Path | str], s3_server: S3Server
) -> None:
    bucket, bundle = str(world["bucket"]), Path(world["bundle"])
    real = ("-c", s3_server.access_key, s3_server.secret_key, "*")
    runs = [
        Run(label, args)
        for label, args in _commands_with_credentials(tmp_path, bucket, bundle, real).items()
        if label in ("download", "info", "list", "publish", "lock", "cache warm")
    ]
    results = _run_all(runs, os.environ, tmp_path)
    assert all(r.returncode == 0 for r in results), [
        (r.run.label, r.output[-300:]) for r in results if r.returncode
    ]
    _assert_nothing_leaked(results, s3_server.secret_key)
    _assert_no_file_holds(tmp_path, s3_server.secret_key)
