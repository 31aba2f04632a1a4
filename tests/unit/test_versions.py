"""Keys must match the original tool's byte for byte, and read back to the same version."""

from __future__ import annotations

import itertools

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from pipper.errors import UsageError
from pipper.keys import (
    bundle_filename,
    bundle_key,
    parse_bundle_key,
    parse_safe_version,
    safe_version,
)
from pipper.versions import mentions_prerelease, normalize_name, to_specifier

REQUIRED_EXAMPLES = [
    "1.0",
    "1.2.0rc1",
    "2.0.0.post1",
    "1.2.3-alpha.1",
    "1.0.0.dev3",
    "1!2.0",
    "1.0+local.7",
    "0.0.1",
    "10.20.30",
    "1.2.3.4.5",
]


def _generated_versions() -> list[str]:
    """Many PEP 440 versions, normalized and not, crossed over every optional part."""
    releases = ["0", "1.0", "0.0.1", "1.2.3", "10.20.30", "1.2.3.4.5"]
    epochs = ["", "1!", "12!"]
    pres = ["", "a1", "b2", "rc0", "-alpha.3", ".RC4", "c5", "pre6", "preview7"]
    posts = ["", ".post1", "-3", ".post0", "_post2"]
    devs = ["", ".dev0", ".dev3", "-dev4"]
    locals_ = ["", "+local.7", "+ubuntu-1", "+ABC_def.2"]
    result = []
    for release, epoch, pre, post, dev, local in itertools.product(
        releases, epochs, pres, posts, devs, locals_
    ):
        result.append(f"{epoch}{release}{pre}{post}{dev}{local}")
    return result


SEMVER_EXAMPLES = [
    "1.2.3-alpha.1+2-tests",
    "1.2.3+2-tests",
    "1.2.0-2+2-tests",
    "1.0.0-rc.1",
    "1.0.0-beta.2",
    "1.0.0-dev3",
    "1.0.0-ALPHA.1",
    "1.0.0+build.5.sha-abc",
    "0.1.0-a.1",
]

ALL_VERSIONS = REQUIRED_EXAMPLES + SEMVER_EXAMPLES + _generated_versions()


@pytest.mark.parametrize(
    ("version", "key"),
    [
        ("1.0.0", "v1-0-0"),
        ("1.2.3-alpha.1+2-tests", "v1-2-3__pre_alpha_1__build_2-tests"),
        ("1.2.3-alpha-beta.1", "v1-2-3__pre_alpha-beta_1"),
        ("1.2.3+2-tests", "v1-2-3__build_2-tests"),
        ("1.2.0-2+2-tests", "v1-2-0__pre_2__build_2-tests"),
        ("1.0", "v1-0"),
        ("1.2.0rc1", "v1-2-0__pre_rc1"),
        ("2.0.0.post1", "v2-0-0__post_1"),
        ("1.0.0.dev3", "v1-0-0__dev_3"),
        ("1!2.0", "v2-0__epoch_1"),
        ("1.0+local.7", "v1-0__build_local_7"),
        ("0.0.1", "v0-0-1"),
        ("10.20.30", "v10-20-30"),
        ("1.2.3.4.5", "v1-2-3-4-5"),
        ("1.0.0-1", "v1-0-0__pre_1"),
        ("1!2.0rc1.post2.dev3+ubuntu.1", "v2-0__epoch_1__pre_rc1__post_2__dev_3__build_ubuntu_1"),
        ("v1.0", "v1-0"),
        ("1.0.0alpha2", "v1-0-0__pre_a2"),
    ],
)
def test_safe_version_known_keys(version: str, key: str) -> None:
    assert safe_version(version) == key


@pytest.mark.parametrize("bad", ["", "latest", "1.x", "not a version", "1.0.0-foo bar", "../1.0"])
def test_safe_version_rejects_non_versions(bad: str) -> None:
    with pytest.raises(UsageError, match="not a valid version"):
        safe_version(bad)


@pytest.mark.parametrize(
    ("key", "version"),
    [
        ("v1-2-3__pre_alpha_1__build_2-tests", "1.2.3-alpha.1+2-tests"),
        ("v1-0-0", "1.0.0"),
        ("v1-2-0__pre_rc1", "1.2.0-rc1"),
        ("v1-2-3__build_2-tests", "1.2.3+2-tests"),
        ("v2-0-0__post_1", "2.0.0.post1"),
        ("v1-0", "1.0"),
        ("v2-0__epoch_1", "1!2.0"),
        ("v1-0__build_local_7", "1.0+local.7"),
        ("v1-0-0__dev_3", "1.0.0.dev3"),
    ],
)
def test_parse_safe_version_known_keys(key: str, version: str) -> None:
    assert parse_safe_version(key) == version


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "v",
        "latest",
        "1-0-0",
        "v1-x",
        "v1-0-0__weird_1",
        "v1-0-0__pre_",
        "v1-0-0__",
        "v1-0-0___pre_a1",
        "v1-0-0__post_1__pre_a1",
        "v1-0-0__pre_a1__pre_a2",
        "v1-0-0/../x",
        "v1-0-0\\x",
        "v1-0-0.pipper",
        "v1-0-0\x00",
        "v1-0-0 ",
        "V1-0-0",
        "v01-0-0",
        "v1--0",
        "v1-0-0__pre_a/b",
        "v1-2-3__pre_alpha-beta_1",
        "v1-0__pre_alpha1",
        "v1-0__epoch_0",
        "v1-0-0__dev_03",
        "v\u0661-0-0",
    ],
)
def test_parse_safe_version_garbage_is_none(garbage: str) -> None:
    assert parse_safe_version(garbage) is None


def test_parse_safe_version_non_string_is_none() -> None:
    assert parse_safe_version(None) is None  # type: ignore[arg-type]


def test_every_required_example_round_trips() -> None:
    for version in REQUIRED_EXAMPLES:
        key = safe_version(version)
        back = parse_safe_version(key)
        assert back is not None, (version, key)
        assert Version(back) == Version(version)
        assert safe_version(back) == key


def test_round_trip_version_to_key_to_version() -> None:
    assert len(ALL_VERSIONS) > 10_000
    for version in ALL_VERSIONS:
        key = safe_version(version)
        back = parse_safe_version(key)
        assert back is not None, (version, key)
        assert Version(back) == Version(version), (version, key, back)


def test_round_trip_key_to_version_to_key() -> None:
    keys = {safe_version(version) for version in ALL_VERSIONS}
    assert len(keys) > 1_000
    for key in keys:
        version = parse_safe_version(key)
        assert version is not None, key
        assert safe_version(version) == key


def test_keys_use_only_key_safe_characters() -> None:
    for version in ALL_VERSIONS:
        key = safe_version(version)
        assert key.startswith("v")
        assert all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in key), key


def test_equal_versions_can_have_distinct_keys() -> None:
    assert safe_version("1.0") != safe_version("1.0.0")
    assert Version(parse_safe_version("v1-0") or "") == Version(parse_safe_version("v1-0-0") or "")


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("Alpha-Pkg", "alpha-pkg"),
        ("alpha_pkg", "alpha-pkg"),
        ("alpha.pkg", "alpha-pkg"),
        ("A__b.-c", "a-b-c"),
        ("plain", "plain"),
    ],
)
def test_normalize_name(name: str, normalized: str) -> None:
    assert normalize_name(name) == normalized


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("pipper", "pipper/alpha_pkg/v1-0-0.pipper"),
        ("/pipper/", "pipper/alpha_pkg/v1-0-0.pipper"),
        ("team/pkgs", "team/pkgs/alpha_pkg/v1-0-0.pipper"),
        ("", "alpha_pkg/v1-0-0.pipper"),
        ("/", "alpha_pkg/v1-0-0.pipper"),
    ],
)
def test_bundle_key(prefix: str, expected: str) -> None:
    assert bundle_key(prefix, "alpha_pkg", "1.0.0") == expected


def test_bundle_key_semver_prerelease() -> None:
    assert (
        bundle_key("pipper", "beta_pkg", "1.2.3-alpha.1+2-tests")
        == "pipper/beta_pkg/v1-2-3__pre_alpha_1__build_2-tests.pipper"
    )


@pytest.mark.parametrize(
    ("prefix", "key", "expected"),
    [
        ("pipper", "pipper/alpha_pkg/v1-0-0.pipper", ("alpha_pkg", "1.0.0")),
        ("/pipper/", "pipper/Alpha.Pkg/v1-2-0__pre_rc1.pipper", ("Alpha.Pkg", "1.2.0-rc1")),
        ("team/pkgs", "team/pkgs/x/v2-0__epoch_1.pipper", ("x", "1!2.0")),
        ("", "alpha_pkg/v1-0.pipper", ("alpha_pkg", "1.0")),
    ],
)
def test_parse_bundle_key(prefix: str, key: str, expected: tuple[str, str]) -> None:
    assert parse_bundle_key(prefix, key) == expected


@pytest.mark.parametrize(
    ("prefix", "key"),
    [
        ("pipper", "other/alpha_pkg/v1-0-0.pipper"),
        ("pipper", "pipperx/alpha_pkg/v1-0-0.pipper"),
        ("pipper", "pipper/alpha_pkg/v1-0-0.zip"),
        ("pipper", "pipper/alpha_pkg/latest.pipper"),
        ("pipper", "pipper/alpha_pkg/sub/v1-0-0.pipper"),
        ("pipper", "pipper/v1-0-0.pipper"),
        ("pipper", "pipper//v1-0-0.pipper"),
        ("pipper", "pipper/../v1-0-0.pipper"),
        ("pipper", "pipper/alpha_pkg/"),
        ("", "/alpha_pkg/v1-0-0.pipper"),
        ("team/pkgs", "team/alpha_pkg/v1-0-0.pipper"),
    ],
)
def test_parse_bundle_key_rejects(prefix: str, key: str) -> None:
    assert parse_bundle_key(prefix, key) is None


def test_bundle_key_and_parse_are_inverse() -> None:
    for version in REQUIRED_EXAMPLES + SEMVER_EXAMPLES:
        parsed = parse_bundle_key("team/pkgs", bundle_key("team/pkgs", "alpha_pkg", version))
        assert parsed is not None
        assert parsed[0] == "alpha_pkg"
        assert Version(parsed[1]) == Version(version)


def test_bundle_filename() -> None:
    assert bundle_filename("alpha_pkg", "1.0.0") == "alpha_pkg-v1-0-0.pipper"
    assert bundle_filename("b", "1.2.0rc1") == "b-v1-2-0__pre_rc1.pipper"


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        ("*", ""),
        ("latest", ""),
        ("LATEST", ""),
        ("1.1.0", "==1.1.0"),
        ("=1.1.0", "==1.1.0"),
        ("==1.1.0", "==1.1.0"),
        (" = 1.1.0 ", "==1.1.0"),
        ("1.*", "==1.*"),
        ("1.1.*", "==1.1.*"),
        ("=1.1.*", "==1.1.*"),
        ("1.1", "==1.1.*"),
        ("1", "==1.*"),
        ("1.2.3.4", "==1.2.3.4"),
        ("1.2.0rc1", "==1.2.0rc1"),
        ("<2.0.0", "<2.0.0"),
        ("<=2.0.0", "<=2.0.0"),
        (">2.0.0", ">2.0.0"),
        (">=2.0.0", ">=2.0.0"),
        (">=1.0,<2", "<2,>=1.0"),
        (" >= 1.0 , < 2 ", "<2,>=1.0"),
        ("~=1.4", "~=1.4"),
        ("!=1.3.0", "!=1.3.0"),
        ("===1.0", "===1.0"),
        ("(>=1.0)", ">=1.0"),
    ],
)
def test_to_specifier(constraint: str | None, expected: str) -> None:
    assert to_specifier(constraint) == SpecifierSet(expected)


def test_to_specifier_partial_keeps_the_original_prefix_meaning() -> None:
    spec = to_specifier("1.2")
    assert spec.contains("1.2.5")
    assert not spec.contains("1.3.0")
    assert to_specifier("1.2.0").contains("1.2.0")
    assert not to_specifier("1.2.0").contains("1.2.5")


@pytest.mark.parametrize("bad", [">>1", "1.*.4", "abc", "=>1.0", "1.0,<2", ">=1.0;", "==1.0 2.0"])
def test_to_specifier_invalid_names_the_constraint(bad: str) -> None:
    with pytest.raises(UsageError) as caught:
        to_specifier(bad)
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (">=1.0rc1", True),
        ("==1.2.3-alpha.1", True),
        (">=1.0.dev0", True),
        ("~=2.0b1", True),
        (">=1.0,<2.0a1", True),
        (">=1.0", False),
        ("==1.*", False),
        ("", False),
        ("!=1.0rc1", False),
        ("===weird", False),
    ],
)
def test_mentions_prerelease(constraint: str, expected: bool) -> None:
    assert mentions_prerelease(SpecifierSet(constraint)) is expected
