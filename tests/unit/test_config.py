"""Where packages live and which credentials reach them: every precedence rule, the saved file."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from pipper.credentials import Credentials, resolve_credentials
from pipper.errors import ConfigError, NotFoundError
from pipper.locations import DEFAULT_PREFIX, normalize_root_prefix, parse_location
from pipper.repositories import Repository, resolve_repository
from pipper.saved import RepositoryStore, SavedRepository
from pipper.settings import Settings

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLETOKENxyz"


def write_store(tmp_path: Path, doc: dict[str, Any]) -> RepositoryStore:
    path = tmp_path / "home" / "repositories.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return RepositoryStore(path)


def store_with(
    tmp_path: Path, default: str | None = None, **repos: dict[str, Any]
) -> RepositoryStore:
    return write_store(tmp_path, {"repositories": repos, "default": default})


def resolve(store: RepositoryStore, env: dict[str, str] | None = None, **kw: Any) -> Repository:
    args: dict[str, Any] = {
        "bucket": None,
        "root_prefix": None,
        "repository": None,
        "endpoint_url": None,
        "region": None,
    }
    args.update(kw)
    return resolve_repository(store=store, env=env if env is not None else {}, **args)


def creds(
    store: RepositoryStore,
    repository: Repository,
    env: dict[str, str] | None = None,
    credentials: tuple[str, str, str] | None = None,
    profile: str | None = None,
) -> Credentials:
    return resolve_credentials(
        credentials=credentials,
        profile=profile,
        repository=repository,
        store=store,
        env=env if env is not None else {},
    )


S3_REPO = Repository(bucket="plain-bucket")


# --- directories ---------------------------------------------------------------------------------


def test_pipper_home_from_env_and_default(tmp_path: Path) -> None:
    assert Settings({"PIPPER_HOME": str(tmp_path / "h")}).home == tmp_path / "h"
    assert Settings({}).home == Path.home() / ".pipper"
    assert Settings({"PIPPER_HOME": ""}).home == Path.home() / ".pipper"


def test_cache_and_data_dirs(tmp_path: Path) -> None:
    assert Settings({"PIPPER_CACHE_DIR": str(tmp_path / "c")}).cache_dir == tmp_path / "c"
    assert Settings({"PIPPER_DATA_DIR": str(tmp_path / "d")}).data_dir == tmp_path / "d"
    assert Settings({}).cache_dir == Path(platformdirs.user_cache_dir("pipper", appauthor=False))
    assert Settings({}).data_dir == Path(platformdirs.user_data_dir("pipper", appauthor=False))


# --- -b spellings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["abc", "my-bucket", "my.bucket.2", "a" * 63, "0x0"])
def test_plain_bucket_names(name: str) -> None:
    assert parse_location(name) == (name, None)


def test_s3_url_gives_the_bucket() -> None:
    assert parse_location("s3://my-bucket") == ("my-bucket", None)
    assert parse_location("s3://my-bucket/") == ("my-bucket", None)
    with pytest.raises(ConfigError, match="--root-prefix"):
        parse_location("s3://my-bucket/team/pkgs")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("My-Bucket", "lowercase"),
        ("under_score", "lowercase"),
        ("a b", "lowercase"),
        ("-abc", "start and end"),
        ("abc-", "start and end"),
        (".repo", "start and end"),
        ("my..bucket", "two dots"),
        ("192.168.0.1", "IP address"),
        ("xn--abc", "reserves"),
        ("logs-s3alias", "reserves"),
    ],
)
def test_invalid_bucket_names_say_the_rule_and_the_local_spelling(name: str, rule: str) -> None:
    with pytest.raises(ConfigError, match=r"not a valid bucket name") as info:
        parse_location(name)
    assert rule in info.value.message
    assert f"./{name}" in info.value.message


@pytest.mark.parametrize("name", ["team-pkgs/shared", "sub/repo/deeper", "some\\dir"])
def test_a_slash_is_never_a_silent_local_directory(name: str) -> None:
    """``-b team-pkgs/shared`` once wrote to ./team-pkgs/shared without a word."""
    with pytest.raises(ConfigError, match="has no '/'") as info:
        parse_location(name)
    message = info.value.message
    assert f"./{name}" in message
    bucket, _, rest = name.replace("\\", "/").partition("/")
    assert f"-b {bucket} --root-prefix {rest}" in message


def test_s3_url_bucket_follows_the_same_rules() -> None:
    with pytest.raises(ConfigError, match="not a valid bucket name"):
        parse_location("s3://Bad_Bucket")


def test_local_path_spellings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_location("./repo") == (None, tmp_path / "repo")
    assert parse_location("./.repo") == (None, tmp_path / ".repo")
    assert parse_location("../up") == (None, tmp_path.parent / "up")
    assert parse_location("./sub/repo") == (None, tmp_path / "sub" / "repo")
    assert parse_location(".") == (None, tmp_path)
    assert parse_location("~/pkgs") == (None, Path.home() / "pkgs")
    assert parse_location(str(tmp_path / "abs")) == (None, tmp_path / "abs")
    assert parse_location(f"file://{tmp_path}/x%20y") == (None, tmp_path / "x y")
    assert parse_location(f"file://localhost{tmp_path}/z") == (None, tmp_path / "z")


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("file://otherhost/x", "another host"),
        ("file:relative", "file:///abs/path"),
        ("http://127.0.0.1:9000", "--endpoint-url"),
        ("", "empty"),
    ],
)
def test_location_errors(value: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        parse_location(value)


# --- root prefix ----------------------------------------------------------------------------------


def test_root_prefix_is_stripped_of_slashes() -> None:
    assert normalize_root_prefix("/team/pkgs/") == "team/pkgs"
    assert normalize_root_prefix("pipper") == "pipper"


@pytest.mark.parametrize("value", ["a/../b", "..", "./x", "a\\b", "a\x00b", "a\nb", "a//b", "/"])
def test_bad_root_prefixes(value: str) -> None:
    with pytest.raises(ConfigError):
        normalize_root_prefix(value)


# --- Repository -----------------------------------------------------------------------------------


def test_repository_id_and_describe_for_s3() -> None:
    plain = Repository(bucket="b-1", root_prefix="team/pkgs")
    assert plain.id == "s3://b-1/team/pkgs"
    assert plain.describe() == "s3://b-1/team/pkgs"
    assert not plain.is_local
    at = Repository(bucket="b-1", endpoint_url="HTTP://user:hunter2@127.0.0.1:9000/")
    assert at.id == "s3://b-1/pipper?endpoint=http://127.0.0.1:9000"
    assert at.describe() == "s3://b-1/pipper at http://127.0.0.1:9000"
    assert "hunter2" not in at.id + at.describe()
    assert at.id != plain.id


def test_repository_id_and_describe_for_local(tmp_path: Path) -> None:
    repo = Repository(bucket=None, local_path=tmp_path / "r")
    assert repo.is_local
    assert repo.id == f"{(tmp_path / 'r').as_uri()}/pipper"
    assert repo.id.startswith("file:///")
    assert repo.describe() == f"local directory {tmp_path / 'r'} (prefix pipper)"


def test_repository_needs_exactly_one_location(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Repository(bucket=None)
    with pytest.raises(ValueError):
        Repository(bucket="abc", local_path=tmp_path)


# --- resolve_repository: where --------------------------------------------------------------------


@pytest.fixture
def two_repos(tmp_path: Path) -> RepositoryStore:
    return store_with(
        tmp_path,
        default="main",
        main={
            "bucket": "main-bucket",
            "profile": "main-profile",
            "root_prefix": "main/prefix",
            "endpoint_url": "http://127.0.0.1:9000",
            "region": "eu-west-1",
        },
        other={
            "bucket": "other-bucket",
            "profile": None,
            "root_prefix": "other",
            "region": "us-east-2",
        },
    )


def test_explicit_bucket_wins_over_named_repository(two_repos: RepositoryStore) -> None:
    repo = resolve(two_repos, bucket="cli-bucket", repository="other")
    assert repo.bucket == "cli-bucket"
    assert repo.name == "other"
    assert repo.root_prefix == "other"
    assert not repo.from_default


def test_named_repository_supplies_everything(two_repos: RepositoryStore) -> None:
    repo = resolve(two_repos, repository="main", env={"PIPPER_BUCKET": "env-bucket"})
    assert repo == Repository(
        bucket="main-bucket",
        root_prefix="main/prefix",
        endpoint_url="http://127.0.0.1:9000",
        region="eu-west-1",
        name="main",
        profile="main-profile",
    )


def test_unknown_named_repository_names_the_file(two_repos: RepositoryStore) -> None:
    with pytest.raises(NotFoundError, match="nope") as info:
        resolve(two_repos, repository="nope")
    assert str(two_repos.path) in str(info.value)


def test_named_repository_without_bucket_is_an_error(tmp_path: Path) -> None:
    store = store_with(tmp_path, creds_only={"bucket": None, "profile": "p"})
    with pytest.raises(ConfigError, match="no bucket"):
        resolve(store, repository="creds_only", env={"PIPPER_BUCKET": "env-bucket"})


def test_env_bucket_beats_the_default_repository(two_repos: RepositoryStore) -> None:
    """CLI > environment > pyproject.toml > the saved default, setting by setting: the default
    repository still gives what the environment does not (as it does for -b)."""
    repo = resolve(two_repos, env={"PIPPER_BUCKET": "env-bucket"})
    assert repo.bucket == "env-bucket"
    assert repo.root_prefix == "main/prefix"
    assert repo.name == "main"
    assert repo.from_default
    assert not repo.is_default_local


def test_default_repository_gives_prefix_to_explicit_bucket(two_repos: RepositoryStore) -> None:
    repo = resolve(two_repos, bucket="cli-bucket")
    assert (repo.bucket, repo.root_prefix, repo.name) == ("cli-bucket", "main/prefix", "main")


def test_env_bucket_when_nothing_saved(tmp_path: Path) -> None:
    store = store_with(tmp_path)
    assert resolve(store, env={"PIPPER_BUCKET": "env-bucket"}).bucket == "env-bucket"
    local = resolve(store, env={"PIPPER_BUCKET": str(tmp_path / "envrepo")})
    assert local.is_local
    assert local.local_path == tmp_path / "envrepo"
    assert not local.is_default_local
    with pytest.raises(ConfigError, match="PIPPER_BUCKET"):
        resolve(store, env={"PIPPER_BUCKET": "Bad_Bucket"})


def test_default_local_repository(tmp_path: Path) -> None:
    store = RepositoryStore(tmp_path / "missing" / "repositories.json")
    env = {"PIPPER_DATA_DIR": str(tmp_path / "data")}
    repo = resolve(store, env=env)
    assert repo.is_local and repo.is_default_local
    assert repo.local_path == tmp_path / "data" / "repository"
    assert repo.root_prefix == DEFAULT_PREFIX
    assert repo.name is None


def test_default_repository_without_bucket_falls_through(tmp_path: Path) -> None:
    store = store_with(tmp_path, default="c", c={"bucket": None, "profile": "p"})
    assert resolve(store, env={"PIPPER_BUCKET": "env-bucket"}).bucket == "env-bucket"


def test_explicit_local_bucket(two_repos: RepositoryStore, tmp_path: Path) -> None:
    repo = resolve(two_repos, bucket=f"file://{tmp_path}/repo", endpoint_url="http://h:1")
    assert repo.local_path == tmp_path / "repo"
    assert repo.endpoint_url is None and repo.region is None
    assert repo.root_prefix == "main/prefix"


def test_root_prefix_precedence(tmp_path: Path) -> None:
    store = store_with(
        tmp_path,
        saved={"bucket": "abc", "root_prefix": "saved/p"},
        bare={"bucket": "abc", "root_prefix": None},
    )
    env = {"PIPPER_ROOT_PREFIX": "/env/p/"}
    assert resolve(store, env=env, repository="saved", root_prefix="/cli/").root_prefix == "cli"
    assert resolve(store, env=env, repository="saved").root_prefix == "saved/p"
    assert resolve(store, env=env, repository="bare").root_prefix == "env/p"
    assert resolve(store, repository="bare").root_prefix == DEFAULT_PREFIX
    with pytest.raises(ConfigError, match="--root-prefix"):
        resolve(store, repository="saved", root_prefix="a/../b")
    with pytest.raises(ConfigError, match="PIPPER_ROOT_PREFIX"):
        resolve(store, repository="bare", env={"PIPPER_ROOT_PREFIX": ".."})


def test_endpoint_precedence(tmp_path: Path) -> None:
    store = store_with(
        tmp_path,
        saved={"bucket": "abc", "endpoint_url": "http://saved:9000"},
        bare={"bucket": "abc"},
    )
    env = {"PIPPER_ENDPOINT_URL": "http://env:9000", "AWS_ENDPOINT_URL": "http://aws:1"}
    cli = resolve(store, env=env, repository="saved", endpoint_url="http://cli:9000")
    assert cli.endpoint_url == "http://cli:9000"
    assert resolve(store, env=env, repository="saved").endpoint_url == "http://saved:9000"
    assert resolve(store, env=env, repository="bare").endpoint_url == "http://env:9000"
    aws_only = {"AWS_ENDPOINT_URL": "http://aws:1", "AWS_ENDPOINT_URL_S3": "http://aws:2"}
    assert resolve(store, env=aws_only, repository="bare").endpoint_url is None


def test_bad_endpoint_hides_password(tmp_path: Path) -> None:
    store = store_with(tmp_path)
    with pytest.raises(ConfigError, match="--endpoint-url") as info:
        resolve(store, bucket="abc", endpoint_url="ftp://me:s3cr3tpw@host")
    assert "s3cr3tpw" not in str(info.value)


def test_region_precedence(two_repos: RepositoryStore) -> None:
    assert resolve(two_repos, repository="other", region="ap-south-1").region == "ap-south-1"
    assert resolve(two_repos, repository="other").region == "us-east-2"
    assert resolve(two_repos, bucket="abc", repository="other").region == "us-east-2"
    empty = RepositoryStore(two_repos.path.parent / "none.json")
    assert resolve(empty, bucket="abc", env={"AWS_REGION": "x"}).region is None


def test_corrupt_store_stops_resolution(tmp_path: Path) -> None:
    path = tmp_path / "repositories.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=str(path)):
        resolve(RepositoryStore(path), bucket="abc")


def test_store_defaults_to_pipper_home_from_env(tmp_path: Path) -> None:
    home = tmp_path / "ph"
    home.mkdir()
    (home / "repositories.json").write_text(
        json.dumps({"repositories": {"x": {"bucket": "from-home"}}, "default": "x"})
    )
    repo = resolve_repository(
        bucket=None,
        root_prefix=None,
        repository=None,
        endpoint_url=None,
        region=None,
        env={"PIPPER_HOME": str(home)},
    )
    assert repo.bucket == "from-home"


# --- resolve_credentials: who ---------------------------------------------------------------------

ALL_ENV = {
    "PIPPER_AWS_ACCESS_KEY_ID": "PIPPERKEYID00001",
    "PIPPER_AWS_SECRET_ACCESS_KEY": "pipper-secret",
    "PIPPER_AWS_SESSION_TOKEN": "pipper-token",
    "AWS_ACCESS_KEY_ID": "AWSKEYID00000001",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "AWS_SESSION_TOKEN": "aws-token",
}


@pytest.fixture
def cred_store(tmp_path: Path) -> RepositoryStore:
    return store_with(
        tmp_path,
        default="dflt",
        dflt={"bucket": "dflt-bucket", "profile": "dflt-profile"},
        dkeys={
            "bucket": "dkeys-bucket",
            "access_key_id": "DKEYSKEYID000001",
            "secret_access_key": "dkeys-secret",
            "session_token": "*",
        },
        chosenp={
            "bucket": "chosen-bucket",
            "profile": "chosen-profile",
            "access_key_id": "CHOSENKEYID00001",
            "secret_access_key": "chosen-secret",
        },
        chosenk={
            "bucket": "chosen-bucket",
            "access_key_id": "CHOSENKEYID00001",
            "secret_access_key": "chosen-secret",
            "session_token": "chosen-token",
        },
        bare={"bucket": "bare-bucket"},
    )


def test_step1_command_line_keys_beat_everything(cred_store: RepositoryStore) -> None:
    repo = resolve(cred_store, repository="chosenp")
    got = creds(cred_store, repo, ALL_ENV, credentials=("CLIKEY", SECRET, TOKEN), profile="p")
    assert (got.access_key_id, got.secret_access_key, got.session_token) == (
        "CLIKEY",
        SECRET,
        TOKEN,
    )
    assert got.profile is None
    assert got.source == "-c/--credentials"


@pytest.mark.parametrize("token", ["*", "0", "", " '*' "])
def test_step1_placeholder_tokens_mean_none(token: str) -> None:
    nowhere = RepositoryStore(Path("/nonexistent/x.json"))
    got = creds(nowhere, S3_REPO, credentials=("K", "S", token))
    assert got.session_token is None
    assert got.access_key_id == "K"


def test_step1_needs_key_and_secret() -> None:
    with pytest.raises(ConfigError, match="-c/--credentials"):
        creds(RepositoryStore(Path("/nonexistent/x.json")), S3_REPO, credentials=("K", " ", "*"))


def test_step1_does_not_read_the_store(tmp_path: Path) -> None:
    path = tmp_path / "repositories.json"
    path.write_text("garbage")
    got = creds(RepositoryStore(path), S3_REPO, credentials=("K", "S", "*"))
    assert got.access_key_id == "K"


def test_step2_chosen_profile_beats_profile_flag_and_env(cred_store: RepositoryStore) -> None:
    repo = resolve(cred_store, repository="chosenp")
    got = creds(cred_store, repo, ALL_ENV, profile="cli-profile")
    assert got.profile == "chosen-profile"
    assert got.access_key_id is None
    assert "chosenp" in got.source


def test_step2_chosen_keys_when_no_profile(cred_store: RepositoryStore) -> None:
    repo = resolve(cred_store, repository="chosenk")
    got = creds(cred_store, repo, ALL_ENV, profile="cli-profile")
    assert (got.access_key_id, got.secret_access_key, got.session_token) == (
        "CHOSENKEYID00001",
        "chosen-secret",
        "chosen-token",
    )
    assert got.profile is None


def test_step2_applies_even_when_bucket_given(cred_store: RepositoryStore) -> None:
    repo = resolve(cred_store, repository="chosenp", bucket="cli-bucket")
    assert creds(cred_store, repo, ALL_ENV).profile == "chosen-profile"


def test_step3_profile_flag_beats_env_and_default(cred_store: RepositoryStore) -> None:
    repo = resolve(cred_store, repository="bare")
    got = creds(cred_store, repo, ALL_ENV, profile="cli-profile")
    assert got == Credentials(profile="cli-profile", source="-p/--profile")


def test_step4_pipper_env_beats_aws_env(cred_store: RepositoryStore) -> None:
    repo = resolve(cred_store, repository="bare")
    got = creds(cred_store, repo, ALL_ENV)
    assert (got.access_key_id, got.secret_access_key, got.session_token) == (
        "PIPPERKEYID00001",
        "pipper-secret",
        "pipper-token",
    )


def test_step5_aws_env_beats_default_repository(cred_store: RepositoryStore) -> None:
    env = {k: v for k, v in ALL_ENV.items() if k.startswith("AWS_")}
    env["AWS_SESSION_TOKEN"] = "*"
    got = creds(cred_store, resolve(cred_store), env)
    assert (got.access_key_id, got.secret_access_key, got.session_token) == (
        "AWSKEYID00000001",
        "aws-secret",
        None,
    )
    assert got.profile is None


def test_env_beats_default_repository_even_when_it_is_in_use(cred_store: RepositoryStore) -> None:
    repo = resolve(cred_store)
    assert repo.name == "dflt" and repo.from_default
    assert creds(cred_store, repo, ALL_ENV).access_key_id == "PIPPERKEYID00001"


def test_step6_default_repository_profile(cred_store: RepositoryStore) -> None:
    for repo in (resolve(cred_store), resolve(cred_store, repository="bare")):
        got = creds(cred_store, repo)
        assert got.profile == "dflt-profile"
        assert "default repository" in got.source


def test_step6_default_repository_keys(cred_store: RepositoryStore) -> None:
    cred_store.default = "dkeys"
    got = creds(cred_store, resolve(cred_store, repository="bare"))
    assert (got.access_key_id, got.secret_access_key, got.session_token) == (
        "DKEYSKEYID000001",
        "dkeys-secret",
        None,
    )


def test_step7_standard_chain(tmp_path: Path) -> None:
    store = store_with(tmp_path, bare={"bucket": "bare-bucket"})
    got = creds(store, resolve(store, repository="bare"), {"AWS_PROFILE": "from-env"})
    assert got == Credentials()
    assert got.access_key_id is None and got.profile is None
    assert got.source == "default AWS chain"


@pytest.mark.parametrize(
    ("env", "named", "missing"),
    [
        ({"PIPPER_AWS_ACCESS_KEY_ID": "AKIAHALF"}, "PIPPER_AWS_ACCESS_KEY_ID", "SECRET"),
        ({"AWS_ACCESS_KEY_ID": "AKIAHALF"}, "AWS_ACCESS_KEY_ID", "SECRET"),
        ({"AWS_SECRET_ACCESS_KEY": "half-secret-value"}, "AWS_SECRET_ACCESS_KEY", "KEY_ID"),
    ],
)
def test_half_set_env_keys_name_the_variable(
    tmp_path: Path, env: dict[str, str], named: str, missing: str
) -> None:
    store = store_with(tmp_path)
    with pytest.raises(ConfigError, match=named) as info:
        creds(store, S3_REPO, env)
    message = str(info.value)
    assert missing in message
    assert "AKIAHALF" not in message and "half-secret-value" not in message


def test_half_saved_keys_are_an_error(tmp_path: Path) -> None:
    store = store_with(tmp_path, half={"bucket": "abc", "access_key_id": "AKIAONLYKEY"})
    with pytest.raises(ConfigError, match="half"):
        creds(store, resolve(store, repository="half"))


def test_local_repository_needs_no_credentials(tmp_path: Path) -> None:
    store = store_with(tmp_path)
    local = Repository(bucket=None, local_path=tmp_path)
    got = creds(store, local, {"AWS_ACCESS_KEY_ID": "AKIAHALF"}, credentials=("K", "S", "*"))
    assert got.access_key_id is None and got.profile is None


# --- no secret is ever shown ----------------------------------------------------------------------


def test_credentials_text_never_shows_secret_or_token() -> None:
    c = Credentials(access_key_id="AKIAABCDEFGH1234", secret_access_key=SECRET, session_token=TOKEN)
    for text in (repr(c), str(c), c.describe(), f"{c}", f"{c!r}", repr([c])):
        assert SECRET not in text
        assert TOKEN not in text
        assert "AKIAABCDEFGH1234" not in text
        assert "1234" in text


def test_saved_repository_repr_hides_secret() -> None:
    saved = SavedRepository(bucket="abc", secret_access_key=SECRET, session_token=TOKEN)
    assert SECRET not in repr(saved) and TOKEN not in repr(saved)


def test_errors_from_saved_repositories_hide_secret(tmp_path: Path) -> None:
    store = store_with(tmp_path, half={"bucket": "abc", "secret_access_key": SECRET})
    with pytest.raises(ConfigError) as info:
        creds(store, resolve(store, repository="half"))
    assert SECRET not in str(info.value)


# --- the repositories file ------------------------------------------------------------------------


def test_reads_the_original_format(tmp_path: Path) -> None:
    store = write_store(
        tmp_path,
        {
            "repositories": {
                "team": {
                    "bucket": "team-bucket",
                    "profile": "team",
                    "root_prefix": "pipper",
                    "access_key_id": None,
                    "secret_access_key": None,
                    "session_token": None,
                }
            },
            "default": "team",
        },
    )
    assert store.names() == ["team"]
    assert store.default == "team"
    saved = store.get("team")
    assert (saved.bucket, saved.profile, saved.root_prefix) == ("team-bucket", "team", "pipper")


def test_round_trip_keeps_unknown_fields(tmp_path: Path) -> None:
    store = write_store(
        tmp_path,
        {
            "repositories": {
                "a": {"bucket": "a-bucket", "profile": None, "root_prefix": "x", "color": "red"},
                "b": {"bucket": "b-bucket", "nested": {"k": [1, 2]}},
            },
            "default": "a",
            "written_by": "another tool",
        },
    )
    store.modify("a", profile="new-profile")
    store.add("c", SavedRepository(bucket="c-bucket"))
    store.save()
    doc = json.loads(store.path.read_text())
    assert doc["written_by"] == "another tool"
    assert doc["repositories"]["a"]["color"] == "red"
    assert doc["repositories"]["a"]["profile"] == "new-profile"
    assert doc["repositories"]["a"]["root_prefix"] == "x"
    assert doc["repositories"]["b"]["nested"] == {"k": [1, 2]}
    assert doc["default"] == "a"
    fresh = RepositoryStore(store.path)
    assert fresh.get("a").extra == {"color": "red"}
    assert fresh.names() == ["a", "b", "c"]


def test_written_entries_look_like_the_originals(tmp_path: Path) -> None:
    store = RepositoryStore(tmp_path / "repositories.json")
    store.add("s", SavedRepository(bucket="s-bucket", profile="p"), default=True)
    store.add("e", SavedRepository(bucket="e-bucket", endpoint_url="http://127.0.0.1:9000"))
    store.save()
    doc = json.loads(store.path.read_text())
    assert doc["default"] == "s"
    assert doc["repositories"]["s"] == {
        "bucket": "s-bucket",
        "profile": "p",
        "root_prefix": "pipper",
        "access_key_id": None,
        "secret_access_key": None,
        "session_token": None,
    }
    assert doc["repositories"]["e"]["endpoint_url"] == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "\xff\xfe",
        "[]",
        '{"repositories": []}',
        '{"repositories": {"a": "bucket"}}',
        '{"repositories": {"a": {"bucket": 3}}}',
        '{"repositories": {}, "default": 7}',
    ],
)
def test_corrupt_file_is_reported_and_never_overwritten(tmp_path: Path, content: str) -> None:
    path = tmp_path / "repositories.json"
    path.write_bytes(content.encode("latin-1"))
    before = path.read_bytes()
    store = RepositoryStore(path)
    with pytest.raises(ConfigError, match=str(path)):
        store.load()
    with pytest.raises(ConfigError):
        store.names()
    with pytest.raises(ConfigError, match="not saving"):
        store.save()
    assert path.read_bytes() == before


def test_unreadable_store_refuses_add(tmp_path: Path) -> None:
    path = tmp_path / "repositories.json"
    path.write_text("oops")
    store = RepositoryStore(path)
    with pytest.raises(ConfigError):
        store.add("x", SavedRepository(bucket="abc"))
    with pytest.raises(ConfigError):
        store.save()
    assert path.read_text() == "oops"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_file_is_private_and_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "newhome" / "repositories.json"
    store = RepositoryStore(path)
    store.add("s", SavedRepository(bucket="abc", access_key_id="K", secret_access_key=SECRET))
    store.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    store.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == ["repositories.json"]


def test_missing_file_is_an_empty_store(tmp_path: Path) -> None:
    store = RepositoryStore(tmp_path / "nope" / "repositories.json")
    assert store.names() == []
    assert store.default is None
    assert not store.exists("x")
    assert not store.path.exists()


def test_add_exists_get_and_duplicates(tmp_path: Path) -> None:
    store = RepositoryStore(tmp_path / "repositories.json")
    store.add("team.pkgs_1", SavedRepository(bucket="abc", region="eu-west-1"))
    assert store.exists("team.pkgs_1")
    assert store.get("team.pkgs_1").region == "eu-west-1"
    assert store.default is None
    with pytest.raises(ConfigError, match="already exists"):
        store.add("team.pkgs_1", SavedRepository(bucket="other"))
    with pytest.raises(NotFoundError, match=str(store.path)):
        store.get("missing")


@pytest.mark.parametrize("name", ["", "-lead", ".hidden", "has space", "a/b", "x" * 65])
def test_repository_names_are_checked(tmp_path: Path, name: str) -> None:
    store = RepositoryStore(tmp_path / "repositories.json")
    with pytest.raises(ConfigError, match="repository name"):
        store.add(name, SavedRepository(bucket="abc"))
    assert store.names() == []


def test_add_checks_and_pins_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = RepositoryStore(tmp_path / "repositories.json")
    saved = SavedRepository(bucket="./local-repo", root_prefix="/a/b/")
    store.add("loc", saved)
    assert saved.bucket == "./local-repo"
    assert store.get("loc").bucket == str(tmp_path / "local-repo")
    assert store.get("loc").root_prefix == "a/b"
    with pytest.raises(ConfigError, match="valid bucket"):
        store.add("bad", SavedRepository(bucket="Bad_Bucket"))
    with pytest.raises(ConfigError, match="secret"):
        store.add("half", SavedRepository(bucket="abc", access_key_id="K"))
    assert store.names() == ["loc"]
    monkeypatch.chdir(tmp_path.parent)
    repo = resolve(store, repository="loc")
    assert repo.local_path == tmp_path / "local-repo"


def test_modify_changes_only_given_fields(tmp_path: Path) -> None:
    store = RepositoryStore(tmp_path / "repositories.json")
    store.add("a", SavedRepository(bucket="abc", profile="p", region="r1"))
    store.add("b", SavedRepository(bucket="bcd"), default=True)
    store.modify("a", region="r2", endpoint_url="http://127.0.0.1:9000", default=True)
    saved = store.get("a")
    assert (saved.bucket, saved.profile, saved.region) == ("abc", "p", "r2")
    assert saved.endpoint_url == "http://127.0.0.1:9000"
    assert store.default == "a"
    store.modify("a", profile=None)
    assert store.get("a").profile is None
    with pytest.raises(NotFoundError):
        store.modify("zzz", region="r")
    with pytest.raises(TypeError):
        store.modify("a", colour="red")
    with pytest.raises(ConfigError):
        store.modify("a", bucket="NOT VALID")
    assert store.get("a").bucket == "abc"


def test_remove_really_removes_and_clears_default(tmp_path: Path) -> None:
    store = RepositoryStore(tmp_path / "repositories.json")
    store.add("a", SavedRepository(bucket="abc"), default=True)
    store.add("b", SavedRepository(bucket="bcd"))
    store.save()
    store.remove("a")
    assert not store.exists("a")
    assert store.default is None
    store.save()
    doc = json.loads(store.path.read_text())
    assert "a" not in doc["repositories"]
    assert doc["default"] is None
    store.remove("b")
    assert store.default is None
    with pytest.raises(NotFoundError):
        store.remove("b")


def test_removing_another_repository_keeps_default(tmp_path: Path) -> None:
    store = RepositoryStore(tmp_path / "repositories.json")
    store.add("a", SavedRepository(bucket="abc"), default=True)
    store.add("b", SavedRepository(bucket="bcd"))
    store.remove("b")
    assert store.default == "a"


def test_default_setter_and_dangling_default(tmp_path: Path) -> None:
    store = write_store(tmp_path, {"repositories": {"a": {"bucket": "abc"}}, "default": "gone"})
    assert store.default is None
    store.default = "a"
    assert store.default == "a"
    with pytest.raises(NotFoundError):
        store.default = "zzz"
    store.default = None
    assert store.default is None


def test_load_rereads_the_file(tmp_path: Path) -> None:
    store = store_with(tmp_path, a={"bucket": "abc"})
    assert store.names() == ["a"]
    other = RepositoryStore(store.path)
    other.add("b", SavedRepository(bucket="bcd"))
    other.save()
    assert store.names() == ["a"]
    store.load()
    assert store.names() == ["a", "b"]
