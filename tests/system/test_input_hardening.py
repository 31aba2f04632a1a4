"""Input that used to crash, leak or escape: each case is now one ``error:`` line and its exit code.

Every case here came from an adversarial review (issue 17): an integer of 5,000 digits or JSON
nested a thousand deep reached the user as "unexpected ValueError/RecursionError"; a listing entry
without a key as "unexpected KeyError"; a password inside a URL was printed; a secret given with
``-c`` could only come from argv; a key or ``wheel_name`` with an escape sequence reached the
terminal raw; a lock could point outside its prefix; saving replaced a symlinked repositories
file. Most cases use a local directory repository (no server needed); the credential cases use
the real S3 server, and the listing case a scripted endpoint on loopback.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lib.cli import CliResult, cli, pipper, publish_graph
from tests.lib.isolation import PipperHome
from tests.lib.s3servers import S3Server
from tests.lib.wheels import make_bundle, make_wheel
from tests.system.test_hostile import _entry, assert_one_line_error, meta_of, zip_of

LONG = "1" * 5000
"""More digits than ``int()`` converts (4,300): the crash ``packaging`` and ``json`` hit."""


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture
def local(tmp_path: Path) -> list[str]:
    """A local repository holding ``alpha 1.0.0``."""
    repo = tmp_path / "repo"
    publish_graph(tmp_path, ["-b", str(repo)], {"alpha": {"1.0.0": []}})
    return ["-b", str(repo)]


def _publish_crafted(tmp_path: Path, repo: list[str], meta: bytes, label: str) -> CliResult:
    """Publish a bundle of a real ``evil`` wheel whose ``package.meta`` is ``meta``."""
    wheel = make_wheel(tmp_path / "wheels", "evil", "1.0.0").read_bytes()
    folder = tmp_path / "crafted" / label
    folder.mkdir(parents=True)
    bundle = folder / "evil-v1-0-0.pipper"
    bundle.write_bytes(zip_of([_entry("package.whl", wheel), _entry("package.meta", meta)]))
    return cli("publish", str(bundle), *repo)


# -- integers longer than int() converts -------------------------------------------------------


@pytest.mark.parametrize("where", ["argv", "argv-operator", "pipper.json", "pipper.yaml"])
def test_a_constraint_with_a_huge_number_is_a_usage_error(
    tmp_path: Path, local: list[str], where: str
) -> None:
    constraint = f">=1.{LONG}" if where == "argv-operator" else f":1.{LONG}"
    package = f"alpha{constraint}"
    if where.startswith("argv"):
        args = [package]
    else:
        path = tmp_path / where
        if where.endswith(".json"):
            path.write_text(json.dumps({"dependencies": [package]}))
        else:
            path.write_text(f'dependencies:\n  - "{package}"\n')
        args = ["-i", str(path)]
    result = cli("download", *args, "-d", str(tmp_path / "out"), *local)
    line = assert_one_line_error(result, 2)
    assert "characters long" in line
    assert LONG not in line
    assert not (tmp_path / "out").exists()


def test_a_bundle_dependency_with_a_huge_number_is_a_bundle_error(
    tmp_path: Path, local: list[str]
) -> None:
    make_bundle(tmp_path / "beta", "beta", "1.0.0", dependencies=[f"alpha:1.{LONG}"])
    assert cli("publish", str(tmp_path / "beta"), *local).exit_code == 0
    result = cli("download", "beta", "-d", str(tmp_path / "out"), *local)
    line = assert_one_line_error(result, 7)
    assert "declares an invalid dependency" in line


def test_huge_numbers_in_input_files_are_usage_errors(tmp_path: Path, local: list[str]) -> None:
    yaml_file = tmp_path / "pipper.yaml"
    yaml_file.write_text(f"dependencies: [alpha]\nname: {LONG}\n")
    result = cli("download", "-i", str(yaml_file), "-d", str(tmp_path / "out"), *local)
    assert "a value cannot be read" in assert_one_line_error(result, 2)

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "1.0.0"\n')
    (project / "pipper.json").write_text(f'{{"dependencies": [], "build": {LONG}}}')
    result = cli("bundle", str(project), "-o", str(tmp_path / "dist"))
    assert "pipper.json: a number of 5000 digits" in assert_one_line_error(result, 2)


def test_huge_numbers_in_a_bundle_meta_are_bundle_errors(tmp_path: Path, local: list[str]) -> None:
    as_number = meta_of(build=0).replace(b'"build": 0', f'"build": {LONG}'.encode())
    result = _publish_crafted(tmp_path, local, as_number, "number")
    assert "a number of 5000 digits" in assert_one_line_error(result, 7)
    as_version = meta_of(version=f"1.{LONG}", wheel_name="evil-1.0.0-py3-none-any.whl")
    result = _publish_crafted(tmp_path, local, as_version, "version")
    assert "is not a valid version" in assert_one_line_error(result, 7)


# -- JSON nested deeper than the interpreter's stack ----------------------------------------


def test_deeply_nested_project_pipper_json_is_a_usage_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "1.0.0"\n')
    for levels in (100, 100_000):
        (project / "pipper.json").write_text(f'{{"dependencies": [], "x": {deep(levels)}}}')
        result = cli("bundle", str(project), "-o", str(tmp_path / "dist"))
        assert "nested too deeply" in assert_one_line_error(result, 2)
    assert not (tmp_path / "dist").exists()


def test_deeply_nested_meta_is_refused_on_publish_at_every_depth(
    tmp_path: Path, local: list[str]
) -> None:
    """Near the stack's limit a meta parsed (in a worker thread) and then failed to be encoded as
    S3 metadata (on the deeper main stack): the window moves with the stack, so try them all."""
    base = json.loads(meta_of())
    for levels in range(65, 1000, 3):
        meta = json.dumps(base)[:-1] + f', "x": {deep(levels)}}}'
        result = _publish_crafted(tmp_path, local, meta.encode(), str(levels))
        assert "nested too deeply" in assert_one_line_error(result, 7), levels


@pytest.mark.parametrize("command", ["repository list", "download", "info"])
def test_deeply_nested_repositories_file_is_a_config_error(
    tmp_path: Path, pipper_home: PipperHome, local: list[str], command: str
) -> None:
    saved = pipper_home.home / "repositories.json"
    saved.write_text(f'{{"repositories": {{}}, "default": null, "x": {deep(50_000)}}}')
    args = {
        "repository list": ["repository", "list"],
        "download": ["download", "alpha", "-d", str(tmp_path / "out"), *local],
        "info": ["info", "alpha", *local],
    }[command]
    line = assert_one_line_error(cli(*args), 2)
    assert "not a valid repositories file" in line
    assert "nested too deeply" in line
    assert saved.read_text().endswith("]}")


def test_deeply_nested_lock_file_is_a_usage_error(tmp_path: Path, local: list[str]) -> None:
    lock = tmp_path / "pipper.lock"
    lock.write_text(f'{{"lock_version": 1, "packages": {deep(100)}}}')
    result = cli("download", "--lock", str(lock), "-d", str(tmp_path / "out"), *local)
    assert "nested too deeply" in assert_one_line_error(result, 2)


# -- a listing entry without a key ------------------------------------------------------------

_LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>keyless</Name><Prefix>pipper/alpha/</Prefix><KeyCount>1</KeyCount>"
    b"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
    b'<Contents><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>"0"</ETag>'
    b"<Size>10</Size><StorageClass>STANDARD</StorageClass></Contents>"
    b"</ListBucketResult>"
)


class _KeylessListings(http.server.BaseHTTPRequestHandler):
    """An endpoint that answers every request with a listing whose one entry has no key."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(_LISTING)))
        self.end_headers()
        self.wfile.write(_LISTING)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def keyless_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KeylessListings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAKEYLESS",
        "AWS_SECRET_ACCESS_KEY": "keyless-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_listing_entry_without_a_key_is_a_network_error(keyless_endpoint: str) -> None:
    result = cli("info", "alpha", "-b", "keyless", "--endpoint-url", keyless_endpoint)
    assert "entry that has no key" in assert_one_line_error(result, 6)


# -- control characters in keys and wheel names -----------------------------------------------


def test_a_bucket_key_with_an_escape_sequence_is_shown_escaped(
    tmp_path: Path, local: list[str]
) -> None:
    planted = Path(local[1]) / "pipper" / "alpha" / "v9-9-9\x1b[2J\x1b]0;owned\x07.pipper"
    planted.write_bytes(b"not a bundle")
    result = cli("info", "alpha", *local)
    assert result.exit_code == 0, result.stderr
    assert "skipping" in result.stderr
    assert "\x1b" not in result.stderr + result.stdout
    assert "\x07" not in result.stderr
    assert "\\x1b[2J" in result.stderr


@pytest.mark.parametrize(
    "wheel_name",
    [
        "evil-1.0.0-py3-none-any\x1b[31m.whl",
        "evil-1.0.0-py3-none-an\ny.whl",
        "evil-1.0.0-1\x07-py3-none-any.whl",
        "evil-1.0.0-py3-none-" + "x" * 300 + ".whl",
    ],
    ids=["escape", "newline", "bell-in-build-tag", "too-long"],
)
def test_a_wheel_name_with_control_characters_is_refused(
    tmp_path: Path, local: list[str], wheel_name: str
) -> None:
    result = _publish_crafted(tmp_path, local, meta_of(wheel_name=wheel_name), "w")
    line = assert_one_line_error(result, 7)
    assert "is not a plain file name" in line
    assert line.isprintable()
    assert not (Path(local[1]) / "pipper" / "evil").exists()


# -- lock entries -----------------------------------------------------------------------------


@pytest.fixture
def locked(tmp_path: Path, local: list[str]) -> dict[str, object]:
    lock = tmp_path / "pipper.lock"
    assert cli("lock", "alpha", "-o", str(lock), *local).exit_code == 0
    document: dict[str, object] = json.loads(lock.read_text())
    return document


LOCK_EDITS = {
    "key-dotdot": ("key", "pipper/../outside/alpha/v1-0-0.pipper", "not a bundle key under"),
    "key-above": ("key", "../../alpha/v1-0-0.pipper", "not a bundle key under 'pipper'"),
    "key-other-prefix": ("key", "other/alpha/v1-0-0.pipper", "not a bundle key under"),
    "key-no-prefix": ("key", "alpha/v1-0-0.pipper", "not a bundle key under"),
    "key-deeper": ("key", "pipper/deeper/alpha/v1-0-0.pipper", "not a bundle key under"),
    "key-absolute": ("key", "/pipper/alpha/v1-0-0.pipper", "not a bundle key under"),
    "size-negative": ("size", -1, "is not a bundle size"),
    "size-over-1-tib": ("size", 2**40 + 1, "is not a bundle size"),
    "size-absurd": ("size", 10**30, "is not a bundle size"),
    "version-huge-number": ("version", f"1.{LONG}", "does not hold version"),
}


@pytest.mark.parametrize("case", list(LOCK_EDITS))
def test_a_lock_entry_that_points_astray_is_refused(
    tmp_path: Path, local: list[str], locked: dict[str, object], case: str
) -> None:
    field, value, says = LOCK_EDITS[case]
    packages = locked["packages"]
    assert isinstance(packages, list)
    packages[0][field] = value
    lock = tmp_path / "edited.lock"
    lock.write_text(json.dumps(locked))
    result = cli("download", "--lock", str(lock), "-d", str(tmp_path / "out"), *local)
    assert says in assert_one_line_error(result, 2)
    assert not (tmp_path / "out").exists()


def test_a_lock_prefix_with_dotdot_is_refused(
    tmp_path: Path, local: list[str], locked: dict[str, object]
) -> None:
    repository = locked["repository"]
    assert isinstance(repository, dict)
    repository["root_prefix"] = "pipper/.."
    lock = tmp_path / "edited.lock"
    lock.write_text(json.dumps(locked))
    result = cli("download", "--lock", str(lock), "-d", str(tmp_path / "out"), *local)
    assert "'..' part" in assert_one_line_error(result, 2)


# -- the repositories file --------------------------------------------------------------------


def test_saving_writes_through_a_symlinked_repositories_file(
    tmp_path: Path, pipper_home: PipperHome
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "repositories.json"
    target.write_text('{"repositories": {}, "default": null, "kept": true}')
    link = pipper_home.home / "repositories.json"
    link.symlink_to(target)
    assert cli("repository", "add", "team", "-b", "team-bucket").exit_code == 0
    assert link.is_symlink()
    saved = json.loads(target.read_text())
    assert saved["repositories"]["team"]["bucket"] == "team-bucket"
    assert saved["kept"] is True
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in dotfiles.iterdir()] == ["repositories.json"]


def test_a_symlink_loop_as_repositories_file_is_a_config_error(pipper_home: PipperHome) -> None:
    link = pipper_home.home / "repositories.json"
    link.symlink_to(pipper_home.home / "loop.json")
    (pipper_home.home / "loop.json").symlink_to(link)
    line = assert_one_line_error(cli("repository", "add", "team", "-b", "team-bucket"), 2)
    assert "symlink" in line
    assert link.is_symlink()


def test_a_repositories_file_too_big_to_be_one_is_refused(pipper_home: PipperHome) -> None:
    saved = pipper_home.home / "repositories.json"
    saved.write_bytes(b'{"repositories": {}, "x": "' + b"x" * (11 * 2**20) + b'"}')
    result = cli("repository", "list")
    assert "larger than 10 MiB" in assert_one_line_error(result, 2)


# -- URL user info ------------------------------------------------------------------------------

PASSWORD = "hunter2-url-password"


def test_repository_list_json_masks_a_hand_written_endpoint_password(
    pipper_home: PipperHome,
) -> None:
    endpoint = f"http://user:{PASSWORD}@127.0.0.1:9000"
    (pipper_home.home / "repositories.json").write_text(
        json.dumps({"repositories": {"team": {"bucket": "b-1", "endpoint_url": endpoint}}})
    )
    result = cli("repository", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert result.json() == [
        {
            "name": "team",
            "default": False,
            "bucket": "b-1",
            "root_prefix": None,
            "profile": None,
            "endpoint_url": "http://127.0.0.1:9000",
            "region": None,
            "has_keys": False,
        }
    ]


@pytest.mark.parametrize("command", ["add", "modify", "use"])
def test_an_endpoint_url_with_credentials_is_refused(
    tmp_path: Path, pipper_home: PipperHome, command: str
) -> None:
    endpoint = ["--endpoint-url", f"http://AKIA:{PASSWORD}@127.0.0.1:9000"]
    saved = pipper_home.home / "repositories.json"
    if command == "modify":
        assert cli("repository", "add", "team", "-b", "b-1").exit_code == 0
    before = saved.read_bytes() if saved.exists() else None
    args = {
        "add": ["repository", "add", "team", "-b", "b-1", *endpoint],
        "modify": ["repository", "modify", "team", *endpoint],
        "use": ["info", "alpha", "-b", "b-1", *endpoint],
    }[command]
    line = assert_one_line_error(cli(*args), 2)
    assert "-c/--credentials or -p/--profile" in line
    assert PASSWORD not in line
    assert (saved.read_bytes() if saved.exists() else None) == before


def test_debug_install_masks_the_index_url_password(tmp_path: Path, local: list[str]) -> None:
    index = f"http://token-user:{PASSWORD}@127.0.0.1:9/simple"
    target = tmp_path / "target"
    # --private-only: the index goes to the installer itself, whose command line is logged.
    result = cli(
        "--debug",
        "install",
        "alpha",
        "-t",
        str(target),
        "--index-url",
        index,
        "--private-only",
        *local,
    )
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "--index-url http://127.0.0.1:9/simple" in result.stderr
    assert (target / "alpha").is_dir()


# -- -c with the secret on standard input -------------------------------------------------------


def test_c_reads_the_secret_from_standard_input(
    tmp_path: Path, s3_server: S3Server, s3_env: dict[str, str], bucket: str
) -> None:
    publish_graph(tmp_path, ["-b", bucket], {"alpha": {"1.0.0": []}})
    key, secret = s3_server.access_key, s3_server.secret_key
    repo = ["info", "alpha", "-b", bucket]
    from_stdin = pipper(*repo, "-c", key, "-", "*", stdin=secret + "\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert "alpha" in from_stdin.stdout
    assert not [line for line in from_stdin.stderr.splitlines() if line.startswith("warning:")]
    assert secret not in from_stdin.stderr

    typed = pipper(*repo, "-c", key, secret, "*", stdin="")
    assert typed.returncode == 0, typed.stderr
    warnings = [line for line in typed.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, typed.stderr
    assert warnings[0].startswith("warning: -c/--credentials: a secret on the command line")
    assert secret not in typed.stderr

    nothing = pipper(*repo, "-c", key, "-", "*", stdin="")
    assert nothing.returncode == 2
    assert nothing.stderr.splitlines() == [
        "error: -c/--credentials: '-' asks for the secret access key on standard input, none came"
    ]


def test_repository_add_reads_secret_and_token_from_standard_input(
    tmp_path: Path, pipper_home: PipperHome
) -> None:
    args = ["repository", "add", "ci", "-b", "team-bucket", "-c", "AKIASTDIN0001", "-", "-"]
    result = pipper(*args, stdin="stdin-secret-value\nstdin-token-value\n")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    saved = json.loads((pipper_home.home / "repositories.json").read_text())
    entry = saved["repositories"]["ci"]
    assert entry["secret_access_key"] == "stdin-secret-value"
    assert entry["session_token"] == "stdin-token-value"
