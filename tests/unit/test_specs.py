"""Package ids and input files: every accepted form, and a precise error for everything else."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from pipper.errors import UsageError
from pipper.keys import redact_url
from pipper.specs import (
    InputFile,
    PackageId,
    load_input,
    merge_ids,
    parse_package_id,
    parse_package_ids,
    validate_name,
)

SECRET = "X-Amz-Signature=deadbeefsecret"
VHOST_URL = (
    "https://bucket.s3.amazonaws.com/pipper/alpha_pkg/v1-0-0.pipper"
    f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&{SECRET}"
)
PATH_URL = f"http://127.0.0.1:9000/bucket/team/pkgs/beta_pkg/v1-2-3__pre_alpha_1.pipper?{SECRET}"


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "A1", "alpha_pkg", "Alpha-Pkg", "alpha.pkg", "x" * 200])
def test_validate_name_accepts(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("..", "'..' path component"),
        ("../x", "'..' path component"),
        ("x/../y", "'..' path component"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("/abs", "absolute path"),
        ("\\abs", "absolute path"),
        ("C:\\x", "absolute path"),
        ("c:x", "absolute path"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("a\tb", "control"),
        ("a\x1b[31mb", "control"),
        ("a\u202eb", "non-printable"),
        ("x" * 201, "too long"),
        ("-a", "not a valid package name"),
        ("a-", "not a valid package name"),
        ("a b", "not a valid package name"),
        ("a+b", "not a valid package name"),
        ("caf\u00e9", "not a valid package name"),
        ("\u212a", "not a valid package name"),
        (".", "not a valid package name"),
    ],
)
def test_validate_name_rejects_with_reason(name: str, reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_name(name)
    message = str(caught.value)
    assert reason in message
    assert message.isprintable(), message


def test_validate_name_escapes_control_characters() -> None:
    with pytest.raises(UsageError) as caught:
        validate_name("a\x00b")
    assert "'a\\x00b'" in str(caught.value)


def test_too_long_name_message_is_short() -> None:
    with pytest.raises(UsageError) as caught:
        validate_name("x" * 5000)
    assert "5000 characters" in str(caught.value)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    "text", ["..", "../x", "a/b", "a\\b", "/abs", "C:\\x", "a\x00b", "a\nb", "x" * 201, "../x:1.0"]
)
def test_parse_package_id_rejects_hostile_names(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_package_id(text)
    assert str(caught.value).isprintable()


# --- package ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "spec"),
    [
        ("alpha_pkg", "alpha_pkg", ""),
        ("  alpha_pkg\n", "alpha_pkg", ""),
        ("alpha_pkg:1.1.0", "alpha_pkg", "==1.1.0"),
        ("alpha_pkg:=1.1.0", "alpha_pkg", "==1.1.0"),
        ("alpha_pkg:==1.1.0", "alpha_pkg", "==1.1.0"),
        ("alpha_pkg:1.*", "alpha_pkg", "==1.*"),
        ("beta_pkg:1.2.*", "beta_pkg", "==1.2.*"),
        ("gamma_pkg:>=1.0", "gamma_pkg", ">=1.0"),
        ("gamma_pkg:<2.0.0", "gamma_pkg", "<2.0.0"),
        ("gamma_pkg:latest", "gamma_pkg", ""),
        ("gamma_pkg:", "gamma_pkg", ""),
        ("gamma_pkg : >=1.0, <2", "gamma_pkg", ">=1.0,<2"),
        ("alpha_pkg==1.0", "alpha_pkg", "==1.0"),
        ("alpha_pkg>=1.0,<2", "alpha_pkg", ">=1.0,<2"),
        ("alpha_pkg ~= 1.4", "alpha_pkg", "~=1.4"),
        ("alpha_pkg!=1.3.0", "alpha_pkg", "!=1.3.0"),
        ("alpha_pkg (>=1.0)", "alpha_pkg", ">=1.0"),
        ("Alpha.Pkg<3", "Alpha.Pkg", "<3"),
    ],
)
def test_parse_package_id_forms(text: str, name: str, spec: str) -> None:
    package = parse_package_id(text)
    assert package.name == name
    assert package.specifier == SpecifierSet(spec)
    assert package.raw == text
    assert package.url is None


def test_parse_package_ids_keeps_order() -> None:
    ids = parse_package_ids(["b", "a:1.0.0", "c>=2"])
    assert [package.name for package in ids] == ["b", "a", "c"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty package id"),
        ("   \t", "empty package id"),
        ("alpha_pkg[extra]", "extras"),
        ("alpha_pkg[extra]>=1.0", "extras"),
        ('alpha_pkg>=1.0; python_version>"3"', "markers"),
        ("alpha_pkg:>>1", "'>>1'"),
        ("alpha_pkg:1.*.4", "'1.*.4'"),
        (":1.0", "empty"),
        (">=1.0", "empty"),
        ("alpha pkg", "not a valid package name"),
    ],
)
def test_parse_package_id_errors(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_package_id(text)
    assert fragment in str(caught.value)


def test_direct_reference_is_refused_without_echoing_the_url() -> None:
    with pytest.raises(UsageError) as caught:
        parse_package_id(f"alpha_pkg @ {VHOST_URL}")
    assert "direct references" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("spelling", ["Alpha-Pkg", "alpha_pkg", "alpha.pkg", "ALPHA__PKG"])
def test_name_spellings_share_a_key(spelling: str) -> None:
    assert parse_package_id(spelling).key == "alpha-pkg"


def test_name_is_kept_as_written() -> None:
    assert parse_package_id("Alpha.Pkg").name == "Alpha.Pkg"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:>=1.0rc1", True),
        ("a:1.2.3-alpha.1", True),
        ("a>=1.0.dev1", True),
        ("a:>=1.0", False),
        ("a", False),
        ("a!=2.0rc1", False),
    ],
)
def test_prereleases(text: str, expected: bool) -> None:
    assert parse_package_id(text).prereleases is expected


def test_str_for_messages() -> None:
    assert str(parse_package_id("alpha_pkg")) == "alpha_pkg"
    assert str(parse_package_id("alpha_pkg:>=1.0")) == "alpha_pkg>=1.0"


# --- URL ids -------------------------------------------------------------------------------------


def test_virtual_hosted_url_id() -> None:
    package = parse_package_id(VHOST_URL)
    assert package.name == "alpha_pkg"
    assert package.specifier == SpecifierSet("==1.0.0")
    assert package.url == VHOST_URL
    assert package.key == "alpha-pkg"


def test_path_style_url_id() -> None:
    package = parse_package_id(PATH_URL)
    assert package.name == "beta_pkg"
    assert package.specifier == SpecifierSet("==1.2.3a1")
    assert package.url == PATH_URL
    assert package.prereleases


def test_url_id_without_root_prefix_or_query() -> None:
    package = parse_package_id("https://host.example/alpha_pkg/v2-0__epoch_1.pipper")
    assert package.name == "alpha_pkg"
    assert package.specifier.contains("1!2.0")


def test_url_id_percent_encoded_name() -> None:
    package = parse_package_id("https://h/pipper/alpha%5Fpkg/v1-0-0.pipper")
    assert package.name == "alpha_pkg"


def test_url_id_never_shows_its_secret() -> None:
    package = parse_package_id(VHOST_URL)
    assert str(package) == "https://bucket.s3.amazonaws.com/pipper/alpha_pkg/v1-0-0.pipper"
    assert SECRET not in repr(package)
    assert SECRET not in str(package)


@pytest.mark.parametrize(
    "url",
    [
        f"https://h/pipper/alpha_pkg/v1-0-0.zip?{SECRET}",
        f"https://h/pipper/alpha_pkg/latest.pipper?{SECRET}",
        f"https://h/pipper/alpha_pkg/?{SECRET}",
        f"https://h/v1-0-0.pipper?{SECRET}",
        f"https://h/?{SECRET}",
        f"https://h?{SECRET}",
        f"https:///alpha_pkg/v1-0-0.pipper?{SECRET}",
        f"https://h/pipper/%2e%2e/v1-0-0.pipper?{SECRET}",
        f"https://h/pipper/a%2Fb/v1-0-0.pipper?{SECRET}",
        f"https://h/pipper/alpha_pkg/v1-0-0.pipper\n?{SECRET}",
        f"https://h/pipper/bad name/v1-0-0.pipper?{SECRET}",
        f"https://user:{SECRET}@h/pipper/alpha_pkg/v1-x.pipper",
    ],
)
def test_bad_url_ids_are_refused_without_the_secret(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_package_id(url)
    assert SECRET not in str(caught.value)
    assert str(caught.value).isprintable()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h/a/b.pipper?sig=1", "https://h/a/b.pipper"),
        ("https://h/a/b.pipper#frag", "https://h/a/b.pipper"),
        ("https://u:p@h:9000/a?x", "https://h:9000/a"),
        ("not a url?x", "not a url"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# --- merge_ids -----------------------------------------------------------------------------------


def test_merge_ids_intersects_and_keeps_first_order() -> None:
    ids = parse_package_ids(["b_pkg", "Alpha-Pkg:>=1.0", "c", "alpha_pkg<2", "B.Pkg:!=1.5"])
    merged = merge_ids(ids)
    assert [package.name for package in merged] == ["b_pkg", "Alpha-Pkg", "c"]
    assert merged[1].specifier == SpecifierSet(">=1.0,<2")
    assert merged[0].specifier == SpecifierSet("!=1.5")
    assert merged[2].specifier == SpecifierSet("")


def test_merge_ids_keeps_a_url() -> None:
    merged = merge_ids([parse_package_id("alpha_pkg>=0.5"), parse_package_id(VHOST_URL)])
    assert len(merged) == 1
    assert merged[0].url == VHOST_URL
    assert merged[0].specifier == SpecifierSet(">=0.5,==1.0.0")


def test_merge_ids_of_nothing() -> None:
    assert merge_ids([]) == []


def test_package_id_is_hashable_and_comparable() -> None:
    assert parse_package_id("a:>=1") == PackageId("a", SpecifierSet(">=1"), raw="a:>=1")
    assert len({parse_package_id("a"), parse_package_id("a")}) == 1


# --- input files ---------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_json(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "pipper.json",
        json.dumps(
            {
                "dependencies": ["alpha_pkg", "beta_pkg:1.2.*", "gamma_pkg:>=1.0"],
                "dev_dependencies": ["test_helpers"],
                "pypi": ["requests==2.*"],
            }
        ),
    )
    loaded = load_input(path)
    assert isinstance(loaded, InputFile)
    assert loaded.path == path
    assert [str(package) for package in loaded.dependencies] == [
        "alpha_pkg",
        "beta_pkg==1.2.*",
        "gamma_pkg>=1.0",
    ]
    assert loaded.pypi == ("requests==2.*",)
    assert [package.name for package in loaded.ids(dev=False)] == [
        "alpha_pkg",
        "beta_pkg",
        "gamma_pkg",
    ]
    assert [package.name for package in loaded.ids(dev=True)][-1] == "test_helpers"


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_load_yaml(tmp_path: Path, suffix: str) -> None:
    path = _write(
        tmp_path,
        f"pipper{suffix}",
        "dependencies:\n  - alpha_pkg\n  - 'beta_pkg:>=1.0,<2'\ndev_dependencies:\npypi: []\n",
    )
    loaded = load_input(path)
    assert [package.name for package in loaded.dependencies] == ["alpha_pkg", "beta_pkg"]
    assert loaded.dependencies[1].specifier == SpecifierSet(">=1.0,<2")
    assert loaded.dev_dependencies == ()
    assert loaded.pypi == ()


def test_empty_mapping_is_fine(tmp_path: Path) -> None:
    loaded = load_input(_write(tmp_path, "pipper.json", "{}"))
    assert loaded.ids(dev=True) == []


def test_non_json_suffix_is_read_as_json(tmp_path: Path) -> None:
    loaded = load_input(_write(tmp_path, "deps.txt", '{"dependencies": ["a"]}'))
    assert [package.name for package in loaded.dependencies] == ["a"]


def test_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "pipper.json"
    path.write_bytes(b'\xef\xbb\xbf{"dependencies": ["a"]}')
    assert len(load_input(path).dependencies) == 1


def test_authorize_output_with_urls(tmp_path: Path) -> None:
    path = _write(tmp_path, "pipper.json", json.dumps({"dependencies": [VHOST_URL, PATH_URL]}))
    loaded = load_input(path)
    assert [package.url for package in loaded.dependencies] == [VHOST_URL, PATH_URL]
    assert [package.name for package in loaded.dependencies] == ["alpha_pkg", "beta_pkg"]


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "pipper.json", '{\n  "dependencies": [\n    "a" "b"\n  ]\n}\n')
    with pytest.raises(UsageError) as caught:
        load_input(path)
    assert str(caught.value) == f"{path}:3:9: Expecting ',' delimiter"


def test_empty_json_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "pipper.json", "")
    with pytest.raises(UsageError, match=r"pipper\.json:1:1: "):
        load_input(path)


def test_malformed_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "pipper.yaml", "dependencies:\n  - a\n  - [b\npypi: []\n")
    with pytest.raises(UsageError) as caught:
        load_input(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:4:")
    assert "expected ',' or ']'" in message


def test_yaml_tab_indentation_error_is_located(tmp_path: Path) -> None:
    path = _write(tmp_path, "pipper.yml", "dependencies:\n\t- a\n")
    with pytest.raises(UsageError) as caught:
        load_input(path)
    assert str(caught.value).startswith(f"{path}:2:1: ")


def test_yaml_python_tags_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "pipper.yaml", "dependencies: !!python/object/apply:os.system [ls]\n")
    with pytest.raises(UsageError, match=r"pipper\.yaml:1:15: "):
        load_input(path)


def test_yaml_control_character_message_is_printable(tmp_path: Path) -> None:
    path = _write(tmp_path, "pipper.yaml", "dependencies: [a\x07]\n")
    with pytest.raises(UsageError) as caught:
        load_input(path)
    assert str(caught.value).isprintable()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[]", "top level must be a mapping, not a list"),
        ('"x"', "top level must be a mapping, not a string"),
        ("null", "top level must be a mapping, not null"),
        ('{"dependencies": "alpha_pkg"}', "'dependencies' must be a list of strings, not a string"),
        ('{"dev_dependencies": {"a": 1}}', "'dev_dependencies' must be a list of strings"),
        ('{"pypi": 3}', "'pypi' must be a list of strings, not a number"),
        ('{"dependencies": ["a", 1]}', "dependencies[1] must be a string, not a number"),
        ('{"dependencies": [true]}', "dependencies[0] must be a string, not a boolean"),
        ('{"pypi": ["ok", ["x"]]}', "pypi[1] must be a string, not a list"),
        ('{"dependencies": ["a", "../evil"]}', "dependencies[1]: package name '../evil'"),
        ('{"dev_dependencies": ["x:>>1"]}', "dev_dependencies[0]: package x: invalid version"),
        ('{"pypi": ["requests>=>2"]}', "pypi[0] is not a valid requirement"),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
    ],
)
def test_wrong_types_name_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, "pipper.json", text)
    with pytest.raises(UsageError) as caught:
        load_input(path)
    assert str(caught.value).startswith(f"{path}:")
    assert fragment in str(caught.value)


def test_empty_yaml_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="top level must be a mapping, not null"):
        load_input(_write(tmp_path, "pipper.yaml", ""))


def test_unknown_keys_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(
        tmp_path,
        "pipper.json",
        json.dumps({"name": "x", "version": "1.0", "description": "d", "extra": 1, "deps": []}),
    )
    with caplog.at_level(logging.WARNING, logger="pipper.specs"):
        load_input(path)
    warned = [record.getMessage() for record in caplog.records]
    assert len(warned) == 2
    assert "'extra'" in warned[0]
    assert "'deps'" in warned[1]
    assert all(str(path) in message for message in warned)


def test_known_keys_are_silent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    keys = ["name", "version", "description", "dependencies", "dev_dependencies", "pypi"]
    path = _write(tmp_path, "pipper.yaml", "".join(f"{key}:\n" for key in keys))
    with caplog.at_level(logging.WARNING, logger="pipper.specs"):
        load_input(path)
    assert caplog.records == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such input file"):
        load_input(tmp_path / "absent.json")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        load_input(tmp_path)


def test_big_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pipper.json"
    path.write_bytes(b'{"dependencies": []}' + b" " * (10 * 1024 * 1024))
    with pytest.raises(UsageError, match="larger than 10 MiB"):
        load_input(path)


def test_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    body = b'{"dependencies": ["a"]}'
    path = tmp_path / "pipper.json"
    path.write_bytes(body + b" " * (10 * 1024 * 1024 - len(body)))
    assert len(load_input(path).dependencies) == 1


def test_non_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pipper.json"
    path.write_bytes(b'{"dependencies": ["\xff"]}')
    with pytest.raises(UsageError, match="not UTF-8"):
        load_input(path)
