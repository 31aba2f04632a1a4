"""Choosing a wheel per version: targets, tag ranks, keys of further wheels, local folders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipper.errors import ResolutionError, UsageError
from pipper.install.local import LocalBundles
from pipper.keys import (
    is_pure_wheel,
    local_filename,
    local_tag_part,
    parse_bundle_filename,
    parse_bundle_key,
    parse_key,
    primary_tags_key,
    variant_key,
    wheel_bundle_filename,
    wheel_tag_part,
)
from pipper.models import Candidate, WheelObject
from pipper.platforms import (
    ANY_TARGET,
    Target,
    TargetSpec,
    choose_wheels,
    custom_target,
    running_target,
    tags_of_part,
    target_for,
    target_spec,
)
from tests.lib.wheels import make_bundle

LINUX = "cp311-cp311-manylinux_2_17_x86_64"
MAC = "cp311-cp311-macosx_11_0_arm64"
PRIMARY = "pipper/acme/v1-0-0.pipper"


def test_keys_of_further_wheels_and_tags_markers_read_back() -> None:
    wheel = f"acme-1.0.0-{LINUX}.whl"
    assert wheel_tag_part(wheel) == LINUX
    assert wheel_tag_part("acme-1.0.0-1-py3-none-any.whl") == "1-py3-none-any"  # a build tag
    variant = variant_key(PRIMARY, wheel)
    assert variant == f"pipper/acme/v1-0-0.{LINUX}.variant"
    parsed = parse_key("pipper", variant)
    assert parsed is not None
    assert (parsed.kind, parsed.primary, parsed.tag_part) == ("variant", PRIMARY, LINUX)
    assert parse_bundle_key("pipper", variant) == ("acme", "1.0.0")
    marker = primary_tags_key(PRIMARY, LINUX)
    tags = parse_key("pipper", marker)
    assert tags is not None and (tags.kind, tags.primary) == ("tags", PRIMARY)
    assert parse_bundle_key("pipper", marker) is None  # never fetched as a bundle
    bundle = parse_key("pipper", PRIMARY)
    assert bundle is not None and bundle.kind == "bundle"


@pytest.mark.parametrize(
    "key",
    [
        "pipper/acme/v1-0-0.variant",  # no tags
        "pipper/acme/v1-0-0.a-b.variant",  # two parts are no tags
        "pipper/acme/v1-x.cp311-cp311-any.variant",  # no version
        "pipper/acme/v1-0-0.cp311/cp311-any.primary",
        "pipper/acme/v1-0-0.yanked",
    ],
)
def test_keys_that_are_neither_are_refused(key: str) -> None:
    assert parse_key("pipper", key) is None


def test_wheel_tag_part_refuses_what_is_no_wheel() -> None:
    with pytest.raises(UsageError):
        wheel_tag_part("acme-1.0.0.tar.gz")
    with pytest.raises(UsageError):
        primary_tags_key(PRIMARY, "../../x")


def test_local_file_names_carry_the_tags_of_platform_wheels() -> None:
    assert local_filename("acme", PRIMARY) == "acme-v1-0-0.pipper"
    assert local_filename("acme", PRIMARY, LINUX) == f"acme-v1-0-0.{LINUX}.pipper"
    assert local_filename("acme", variant_key(PRIMARY, f"acme-1.0.0-{MAC}.whl"), MAC) == (
        f"acme-v1-0-0.{MAC}.pipper"
    )
    assert parse_bundle_filename(f"acme-v1-0-0.{MAC}.pipper") == ("acme", "1.0.0")
    assert parse_bundle_filename("my-viewer-v2-0-0.pipper") == ("my-viewer", "2.0.0")
    assert local_tag_part(f"acme-v1-0-0.{MAC}.pipper") == MAC
    assert local_tag_part("acme-v1-0-0.pipper") is None
    assert wheel_bundle_filename("a", "1.0", "a-1.0-py2.py3-none-any.whl") == "a-v1-0.pipper"
    assert is_pure_wheel("a-1.0-py2.py3-none-any.whl")
    assert not is_pure_wheel("a-1.0-cp311-abi3-linux_x86_64.whl")


def test_the_running_target_ranks_this_platform_before_pure_wheels() -> None:
    here = running_target()
    py = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    linux = tags_of_part(f"{py}-{py}-manylinux_2_17_x86_64")
    pure = tags_of_part("py3-none-any")
    assert linux is not None and pure is not None
    if sys.platform == "linux":
        ranked = here.rank(linux)
        assert ranked is not None and ranked < (here.rank(pure) or 0)
    mac = tags_of_part(f"{py}-{py}-macosx_11_0_arm64")
    assert mac is not None and (sys.platform == "darwin" or here.rank(mac) is None)
    assert target_for(Path(sys.executable)).tags == here.tags  # the probe agrees


def test_custom_target_expands_like_pip_download() -> None:
    mac = custom_target(platforms=["macosx_12_0_arm64"], python_version="3.12", abis=["cp312"])
    older = tags_of_part("cp312-cp312-macosx_11_0_arm64")
    assert older is not None and mac.rank(older) is not None  # older macOS wheels fit
    abi3 = tags_of_part("cp39-abi3-macosx_11_0_arm64")
    assert abi3 is not None and mac.rank(abi3) is not None
    linux = custom_target(platforms=["manylinux_2_28_x86_64"], python_version="312")
    legacy = tags_of_part("cp312-cp312-manylinux2014_x86_64")
    assert legacy is not None and linux.rank(legacy) is not None
    assert linux.description == "CPython 3.12 on manylinux_2_28_x86_64"
    with pytest.raises(UsageError, match="--python-version"):
        custom_target(python_version="three")
    with pytest.raises(UsageError, match="--implementation"):
        custom_target(implementation="zz")


def test_target_spec_is_lazy_and_all_platforms_excludes_the_others() -> None:
    calls: list[int] = []

    def make() -> Target:
        calls.append(1)
        return ANY_TARGET

    spec = TargetSpec(make)
    assert calls == []
    spec()
    spec()
    assert calls == [1]
    assert target_spec(all_platforms=True).everything
    with pytest.raises(UsageError, match="--all-platforms"):
        target_spec(all_platforms=True, platforms=["win_amd64"])


def candidate(version: str, *wheels: WheelObject) -> Candidate:
    first = wheels[0]
    return Candidate(
        "acme", version, first.key, first.size, first.etag, tag_part=first.tag_part, wheels=wheels
    )


def wheel(version: str, tags: str | None) -> WheelObject:
    key = f"pipper/acme/v{version.replace('.', '-')}" + (f".{tags}.variant" if tags else ".pipper")
    return WheelObject(key, 10, f"etag-{tags}", tags)


LINUX_TARGET = Target("linux", (LINUX, "cp311-abi3-manylinux_2_17_x86_64", "py3-none-any"))


def test_each_version_becomes_its_best_wheel_and_unfit_versions_drop_out() -> None:
    found = [
        candidate("1.0.0", wheel("1.0.0", None), wheel("1.0.0", LINUX), wheel("1.0.0", MAC)),
        candidate("2.0.0", wheel("2.0.0", MAC)),
        candidate("0.5.0", wheel("0.5.0", None)),
    ]
    chosen = choose_wheels("acme", found, TargetSpec(lambda: LINUX_TARGET))
    assert [(c.version, c.tag_part) for c in chosen] == [("1.0.0", LINUX), ("0.5.0", None)]
    assert chosen[0].key.endswith(f"{LINUX}.variant") and chosen[0].etag == f"etag-{LINUX}"
    everything = choose_wheels("acme", found, TargetSpec(lambda: ANY_TARGET, everything=True))
    assert [c.key for c in everything] == [c.key for c in found]


def test_no_target_is_computed_where_no_wheel_has_known_tags() -> None:
    def boom() -> Target:
        raise AssertionError("computed a target for pure bundles")

    found = [candidate("1.0.0", wheel("1.0.0", None))]
    assert choose_wheels("acme", found, TargetSpec(boom)) == found


def test_no_fitting_wheel_is_an_error_that_names_tags() -> None:
    found = [candidate("2.0.0", wheel("2.0.0", MAC))]
    with pytest.raises(ResolutionError) as caught:
        choose_wheels("acme", found, TargetSpec(lambda: LINUX_TARGET))
    assert str(caught.value) == (
        f"no wheel of acme fits linux ({LINUX}, cp311-abi3-manylinux_2_17_x86_64, py3-none-any);"
        f" available: 2.0.0: {MAC}"
    )


def test_a_vendored_folder_offers_every_wheel_of_a_version(tmp_path: Path) -> None:
    for tag in ("py3-none-any", LINUX, MAC):
        make_bundle(tmp_path, "acme", "1.0.0", tag=tag)
    local = LocalBundles()
    local.add_folder(tmp_path)
    (version,) = local.versions("acme")
    assert version.tag_part is None and version.key == "acme/acme-v1-0-0.pipper"
    assert sorted(w.tag_part or "" for w in version.wheels) == sorted(["", LINUX, MAC])
    (chosen,) = choose_wheels("acme", [version], TargetSpec(lambda: LINUX_TARGET))
    assert local.path(chosen) == tmp_path / f"acme-v1-0-0.{LINUX}.pipper"
