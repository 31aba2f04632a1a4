"""The conventions a pip or uv user expects: global options anywhere, color, progress, help pages
that read at 80 columns, completion scripts, environment variables, ``[tool.pipper]``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.lib.cli import REPO_ROOT, PtyProcess, cli, publish_graph
from tests.lib.wheels import make_bundle

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RED_ERROR = "\x1b[1;31merror:\x1b[0m"


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """A local repository with two packages."""
    repo = tmp_path / "repo"
    publish_graph(
        tmp_path, ["-b", str(repo)], {"alpha": {"1.0.0": ["beta"]}, "beta": {"1.0.0": []}}
    )
    return repo


# -- global options before or after the command ---------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_before_or_after_the_command(local: Path, where: str) -> None:
    args = ["list", "-b", str(local)]
    loud = cli(*args)
    assert "2 packages in" in loud.stderr
    quiet = cli("-q", *args) if where == "before" else cli(*args, "-q")
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    assert quiet.stdout == loud.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_counts_and_debug_anywhere(local: Path, where: str) -> None:
    args = ["list", "-b", str(local)]

    def run(*flags: str) -> str:
        return (cli(*flags, *args) if where == "before" else cli(*args, *flags)).stderr

    plain = run()
    assert "info:" not in plain and "debug:" not in plain
    one = run("-v")
    assert f"info: repository: local directory {local}" in one
    assert "debug:" not in one
    assert "debug: project settings" in run("-vv")
    assert "debug: project settings" in run("--debug")
    assert "debug:" in cli("-v", *args, "-v").stderr  # counted across both places


def test_global_options_after_a_subcommand_of_a_group(tmp_path: Path) -> None:
    assert cli("repository", "add", "team", "-b", "team-bucket").exit_code == 0
    listed = cli("repository", "list", "-q")
    assert listed.exit_code == 0 and "team" in listed.stdout
    assert cli("cache", "dir", "--no-progress", "-v").exit_code == 0


def test_state_does_not_leak_from_one_command_to_the_next(local: Path) -> None:
    assert cli("-q", "list", "-b", str(local)).stderr == ""
    assert "2 packages in" in cli("list", "-b", str(local)).stderr


def test_short_version_flag() -> None:
    result = cli("-V")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"pipper {__import__('pipper').__version__}"


# -- color ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "env", "colored"),
    [
        ([], {}, False),  # not a terminal
        ([], {"FORCE_COLOR": "1"}, True),
        ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        (["--color", "always"], {"NO_COLOR": "1"}, True),
        (["--color", "never"], {"FORCE_COLOR": "1"}, False),
    ],
)
def test_error_is_red_only_when_color_is_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    env: dict[str, str],
    colored: bool,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = cli("list", "-b", "./missing", *flags, env=env)
    assert result.exit_code == 3
    assert (RED_ERROR in result.stderr) is colored
    assert ANSI.sub("", result.stderr).startswith("error: no such local repository")


def _in_pty(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``pipper ARGS`` on a pseudo-terminal; its exit code and output."""
    process = PtyProcess(args, env, cwd)
    return process.wait(), process.text


def test_error_is_red_on_a_terminal_and_plain_with_no_color(tmp_path: Path) -> None:
    code, out = _in_pty(["list", "-b", "./missing"], {}, tmp_path)
    assert code == 3
    assert RED_ERROR in out
    code, out = _in_pty(["list", "-b", "./missing"], {"NO_COLOR": "1"}, tmp_path)
    assert code == 3
    assert "\x1b[" not in out and "error: no such local repository" in out


# -- progress -------------------------------------------------------------------------------------


def test_a_log_gets_one_line_per_phase_unless_no_progress(
    local: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPPER_NO_PROGRESS")  # the suite's default: see conftest
    args = ["download", "alpha", "-b", str(local), "-d", str(tmp_path / "v")]
    logged = cli(*args)
    assert logged.exit_code == 0, logged.stderr
    phase = [line for line in logged.stderr.splitlines() if line.startswith("Downloading:")]
    assert phase == [phase[0]] and "resolved 2 packages" in phase[0]
    for quiet in (cli(*args, "--no-progress"), cli("--no-progress", *args)):
        assert "Downloading:" not in quiet.stderr
        assert "Downloaded 2 packages" in quiet.stderr
    monkeypatch.setenv("PIPPER_NO_PROGRESS", "1")
    assert "Downloading:" not in cli(*args).stderr
    monkeypatch.setenv("PIPPER_NO_PROGRESS", "sometimes")
    bad = cli(*args)
    assert bad.exit_code == 2 and "PIPPER_NO_PROGRESS must be 1 or 0" in bad.stderr


def test_terminal_progress_counts_packages_of_the_total_and_bytes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    graph = {f"p{n}": {"1.0.0": [f"p{n + 1}"] if n < 5 else []} for n in range(6)}
    publish_graph(tmp_path, ["-b", str(repo)], graph, sizes={"p3": 300_000})
    env = {"COLUMNS": "160", "PIPPER_NO_PROGRESS": "0", "PIPPER_CACHE_DIR": str(tmp_path / "c")}
    code, out = _in_pty(["download", "p0", "-b", str(repo), "-d", "v"], env, tmp_path)
    assert code == 0, out
    text = ANSI.sub("", out)
    counts = re.findall(r"(\d+)/(\d+) packages \((\d+) cached\)", text)
    assert counts, text
    assert all(int(done) <= int(known) <= 6 for done, known, _ in counts)
    assert ("6", "6", "0") in counts or any(done == known for done, known, _ in counts)
    assert re.search(r"/\d+\.\d+ [kM]B", text) or re.search(r"\d+/\d+ bytes", text), text


# -- help -----------------------------------------------------------------------------------------

#: Typer's Python-flavoured labels, and its default style, which the help pages must not show.
TYPE_NAMES = re.compile(
    r"<(bool|str|int|float|path|list\[[^\]]*\]|tuple[^>]*|[a-z]+ range|[a-z]+(\|[a-z]+)+)>"
    r"|\{[a-z_]+\}|\[(path|str|int|bool)\]|\[default:|\b(TEXT|INTEGER|FLOAT|BOOLEAN)\b|…"
)


def _command_paths() -> list[tuple[str, ...]]:
    import typer.main

    from pipper.cli import app

    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = [()]
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        paths.append((name,))
        for sub in getattr(command, "commands", {}):
            paths.append((name, sub))
    return paths


COMMANDS = _command_paths()


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "pipper")
def test_help_reads_cleanly_at_80_columns(path: tuple[str, ...]) -> None:
    result = cli(*path, "--help", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines, path
    too_wide = [line for line in lines if len(line) > 80]
    assert too_wide == []
    found = TYPE_NAMES.search(result.stdout)
    assert found is None, f"{found.group(0)!r} in the help of {path}" if found else ""


def _options() -> list[tuple[tuple[str, ...], Any]]:
    import typer.main

    from pipper.cli import app

    root = typer.main.get_command(app)
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        for param in command.params:
            found.append((path, param))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(root, ())
    return found


def test_every_value_has_a_plain_metavar() -> None:
    missing = [
        (path, param.name)
        for path, param in _options()
        if param.param_type_name == "option"
        and not (param.is_flag or param.count)
        and not param.metavar
    ]
    assert missing == []


#: Each option that a variable also sets, and that variable: the help must name it.
OPTION_VARIABLES = {
    "bucket": "PIPPER_BUCKET",
    "root_prefix": "PIPPER_ROOT_PREFIX",
    "repository": "PIPPER_REPOSITORY",
    "endpoint_url": "PIPPER_ENDPOINT_URL",
    "region": "PIPPER_REGION",
    "profile": "PIPPER_PROFILE",
    "credentials": "PIPPER_AWS_ACCESS_KEY_ID",
    "cache_dir": "PIPPER_CACHE_DIR",
    "concurrency": "PIPPER_CONCURRENCY",
    "installer": "PIPPER_INSTALLER",
    "no_progress": "PIPPER_NO_PROGRESS",
    "color": "NO_COLOR",
}


def test_every_option_names_its_environment_variable() -> None:
    unnamed = [
        (path, param.name)
        for path, param in _options()
        if param.name in OPTION_VARIABLES
        and path[:1] != ("repository",)  # saving a repository reads no variable
        and OPTION_VARIABLES[param.name] not in (param.help or "")
    ]
    assert unnamed == []
    saved = [
        p for path, p in _options() if path[:2] == ("repository", "add") and p.name == "bucket"
    ]
    assert saved and "PIPPER_BUCKET" not in (saved[0].help or "")


def test_commands_are_listed_in_workflow_order() -> None:
    top = cli("--help", env={"COLUMNS": "80"}).stdout
    order = ["demo", "bundle", "publish", "list", "info", "download", "install", "lock"]
    order += ["authorize", "cache", "repository", "config", "completion"]
    positions = [re.search(rf"^  {name} ", top, re.M) for name in order]
    assert all(positions), top
    assert [p.start() for p in positions if p] == sorted(p.start() for p in positions if p)


# -- completion -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_each_shell(shell: str) -> None:
    result = cli("completion", shell)
    assert result.exit_code == 0, result.stderr
    assert "_PIPPER_COMPLETE" in result.stdout
    assert f"complete_{shell}" in result.stdout
    assert cli("completion", "tcsh").exit_code == 2


def test_bash_completion_answers_from_the_command_tree() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "_PIPPER_COMPLETE": "complete_bash",
        "COMP_WORDS": "pipper dow",
        "COMP_CWORD": "1",
    }
    out = subprocess.run(
        [sys.executable, "-m", "pipper"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "download" in out.stdout
    env["COMP_WORDS"] = "pipper download --ca"
    env["COMP_CWORD"] = "2"
    out = subprocess.run(
        [sys.executable, "-m", "pipper"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "--cache-dir" in out.stdout


# -- environment variables for every repository option and the installer --------------------------


def test_pipper_repository_region_profile_and_installer(tmp_path: Path) -> None:
    from pipper.context import CommandContext
    from pipper.errors import UsageError
    from pipper.project import ProjectSettings
    from pipper.saved import RepositoryStore, SavedRepository
    from pipper.settings import Settings

    home = tmp_path / "home"
    store = RepositoryStore(home / "repositories.json")
    store.add("team", SavedRepository(bucket="team-bucket", root_prefix="team"))
    store.save()
    env = {
        "PIPPER_HOME": str(home),
        "PIPPER_REPOSITORY": "team",
        "PIPPER_REGION": "eu-west-3",
        "PIPPER_PROFILE": "ci",
        "PIPPER_INSTALLER": "uv",
    }
    ctx = CommandContext(settings=Settings(env), project=ProjectSettings())
    repository = ctx.repository
    assert (repository.bucket, repository.root_prefix, repository.region) == (
        "team-bucket",
        "team",
        "eu-west-3",
    )
    assert not repository.from_default
    credentials = ctx.credentials()
    assert credentials is not None and credentials.profile == "ci"
    assert ctx.installer() == "uv"
    assert ctx.installer("pip") == "pip"
    wrong = CommandContext(
        settings=Settings({"PIPPER_INSTALLER": "conda"}), project=ProjectSettings()
    )
    with pytest.raises(UsageError, match="PIPPER_INSTALLER must be pip or uv"):
        wrong.installer()


# -- [tool.pipper] --------------------------------------------------------------------------------


def _project(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "proj"
    (folder / "src" / "deep").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.pipper]\n{body}")
    return folder


def test_pyproject_names_the_repository_for_every_command_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _project(tmp_path, 'repository = "./packages"\nprefix = "team/pkgs"\n')
    bundle = make_bundle(tmp_path / "dist", "acme", "1.0.0")
    monkeypatch.chdir(folder / "src" / "deep")
    published = cli("publish", str(bundle))
    assert published.exit_code == 0, published.stderr
    assert (folder / "packages" / "team" / "pkgs" / "acme" / "v1-0-0.pipper").is_file()
    assert "default local repository" not in published.stderr
    assert cli("list", "--json").json() == [
        {"name": "acme", "latest": "1.0.0", "versions": 1, "yanked": []}
    ]


def test_precedence_cli_then_environment_then_pyproject_then_saved_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _project(
        tmp_path,
        'repository = "proj-bucket"\nprefix = "proj"\nendpoint = "http://127.0.0.1:1"\n'
        'installer = "uv"\nconcurrency = 7\n',
    )
    assert (
        cli(
            "repository",
            "add",
            "dflt",
            "-b",
            "saved-bucket",
            "--prefix",
            "saved",
            "--region",
            "eu-north-1",
            "--default",
        ).exit_code
        == 0
    )
    monkeypatch.chdir(folder)

    def config(*args: str, env: dict[str, str] | None = None) -> dict[str, tuple[Any, str]]:
        result = cli("config", "--json", *args, env=env)
        assert result.exit_code == 0, result.stderr
        rows = result.json()
        assert isinstance(rows, list)
        return {row["setting"]: (row["value"], row["source"]) for row in rows}

    pyproject = str(folder / "pyproject.toml")
    got = config()
    assert got["bucket"] == ("proj-bucket", f"{pyproject} [tool.pipper] repository")
    assert got["prefix"] == ("proj", f"{pyproject} [tool.pipper] prefix")
    assert got["endpoint"] == ("http://127.0.0.1:1", f"{pyproject} [tool.pipper] endpoint")
    assert got["region"][0] == "eu-north-1" and "(the default)" in got["region"][1]
    assert got["installer"] == ("uv", f"{pyproject} [tool.pipper] installer")
    assert got["concurrency"] == (7, f"{pyproject} [tool.pipper] concurrency")
    assert got["project"][0] == pyproject

    env = config(env={"PIPPER_BUCKET": "env-bucket", "PIPPER_CONCURRENCY": "9"})
    assert env["bucket"] == ("env-bucket", "PIPPER_BUCKET")
    assert env["prefix"][0] == "proj"  # still the project's: only the bucket came from env
    assert env["concurrency"] == (9, "PIPPER_CONCURRENCY")

    flags = config(
        "-b",
        "cli-bucket",
        "--installer",
        "pip",
        "--concurrency",
        "3",
        env={"PIPPER_BUCKET": "env-bucket"},
    )
    assert flags["bucket"] == ("cli-bucket", "-b/--bucket")
    assert flags["installer"] == ("pip", "--installer")
    assert flags["concurrency"] == (3, "--concurrency")

    (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    saved = config()
    assert saved["bucket"][0] == "saved-bucket" and "(the default)" in saved["bucket"][1]
    assert saved["installer"] == ("pip", "default")
    assert saved["project"][0] is None


def test_config_prints_each_setting_with_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = cli("config", "-b", "./here")
    assert text.exit_code == 0, text.stderr
    rows = {line.split()[0]: line for line in text.stdout.splitlines()}
    assert str(tmp_path / "here") in rows["bucket"] and rows["bucket"].endswith("-b/--bucket")
    assert rows["installer"].split()[1:] == ["pip", "default"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('installer = "conda"', "installer must be 'pip' or 'uv'"),
        ("concurrency = 0", "concurrency must be a whole number from 1 to 1024"),
        ("concurrency = true", "concurrency must be a whole number"),
        ("prefix = 3", "prefix must be a string"),
        ('repository = "Bad_Bucket"', "[tool.pipper] repository 'Bad_Bucket' is not a valid"),
        ("repository = [", "is not valid TOML"),
    ],
)
def test_a_bad_pyproject_table_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, message: str
) -> None:
    monkeypatch.chdir(_project(tmp_path, body + "\n"))
    result = cli("list")
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "pyproject.toml" in result.stderr


def test_unknown_pyproject_keys_are_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_project(tmp_path, 'repository = "./r"\nbukcet = "x"\n'))
    result = cli("publish", str(make_bundle(tmp_path / "d", "acme", "1.0.0")))
    assert result.exit_code == 0, result.stderr
    assert "warning:" in result.stderr and "unknown key bukcet" in result.stderr


# -- authorize and temporary credentials ---------------------------------------------------------


def test_authorize_warns_when_the_urls_carry_a_session_token(
    tmp_path: Path, s3_env: dict[str, str]
) -> None:
    """moto's server, since it takes any session token (SeaweedFS refuses one it never issued)."""
    from tests.lib.s3servers import running_server

    with running_server("moto", tmp_path / "moto") as moto:
        moto.client().create_bucket(Bucket="signing")
        repo = ["-b", "signing", "--endpoint-url", moto.endpoint_url]
        publish_graph(tmp_path, repo, {"app": {"1.0.0": []}})
        keys = ["-c", moto.access_key, moto.secret_key]
        lasting = cli("authorize", "app", *repo, *keys, "*")
        assert lasting.exit_code == 0, lasting.stderr
        assert "session) credentials" not in lasting.stderr
        session = cli("authorize", "app", *repo, *keys, "a-session-token")
    assert session.exit_code == 0, session.stderr
    assert "X-Amz-Security-Token=" in session.stdout
    warning = [line for line in session.stderr.splitlines() if "session) credentials" in line]
    assert len(warning) == 1
    assert "temporary (session) credentials" in warning[0] and "--expires" in warning[0]
    assert "a-session-token" not in session.stderr


def test_the_readme_documents_every_variable_and_project_key() -> None:
    from pipper.project import KEYS
    from pipper.settings import VARIABLES

    readme = (REPO_ROOT / "README.md").read_text()
    assert [name for name in VARIABLES if f"`{name}`" not in readme] == []
    table = readme[readme.index("[tool.pipper]\nrepository") :]
    assert [key for key in KEYS if f"\n{key} = " not in table] == []
    steps = [
        "1. the command line",
        "2. the environment",
        "3. the project's",
        "4. the saved default",
    ]
    positions = [readme.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "pipper-demo/" in (REPO_ROOT / ".gitignore").read_text().splitlines()


def test_install_says_so_while_the_installer_runs(local: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    result = cli("install", "alpha", "-b", str(local), "--target", str(target))
    assert result.exit_code == 0, result.stderr
    assert "Installing 2 packages with pip..." in result.stderr
    lines = result.stderr.splitlines()
    said = lines.index("Installing 2 packages with pip...")
    assert any(line.startswith("Installed 2 packages") for line in lines[said + 1 :])
    again = cli("install", "alpha", "-b", str(local), "--target", str(target))
    assert again.exit_code == 0, again.stderr
    assert "Installing" not in again.stderr  # nothing to install: no installer run to announce
