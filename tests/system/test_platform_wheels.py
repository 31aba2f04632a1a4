"""Several wheels per version, and the right one for each interpreter, against the real server.

The wheels carry real platform tags but no compiled code (pip and uv decide by tags); each one's
module says which wheel it is (``__wheel_tag__``), so a test can tell which one was installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.lib.cli import cli, spawn
from tests.lib.venvs import fresh_venv
from tests.lib.wheels import make_bundle

PY = f"cp{sys.version_info[0]}{sys.version_info[1]}"
LINUX = f"{PY}-{PY}-manylinux_2_17_x86_64"
MAC = f"{PY}-{PY}-macosx_11_0_arm64"
PURE = "py3-none-any"

pytestmark = pytest.mark.usefixtures("isolated_installers", "s3_env")


def publish(tmp_path: Path, bucket: str, name: str, version: str, *tags: str) -> list[Path]:
    """Bundle one wheel per tag and publish them together, as ``pipper publish dist/`` would."""
    out = Path(tempfile.mkdtemp(prefix="dist-", dir=tmp_path))
    bundles = [make_bundle(out, name, version, tag=tag) for tag in tags]
    result = cli("publish", str(out), "-b", bucket)
    assert result.exit_code == 0, result.stderr
    return bundles


def wheel_tag(python: Path, module: str) -> str:
    code = f"import {module} as m; print(getattr(m, '__wheel_tag__', 'py3-none-any'))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def keys(s3_env: dict[str, str], bucket: str) -> list[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_env["AWS_ENDPOINT_URL"],
        aws_access_key_id=s3_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    listing = client.list_objects_v2(Bucket=bucket, Prefix="pipper/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_three_wheels_of_one_version_install_picks_this_platform(
    tmp_path: Path, bucket: str, s3_env: dict[str, str]
) -> None:
    publish(tmp_path, bucket, "acme_fast", "1.0.0", PURE, LINUX, MAC)
    stored = keys(s3_env, bucket)
    assert stored == sorted(
        [
            "pipper/acme_fast/v1-0-0.pipper",
            f"pipper/acme_fast/v1-0-0.{LINUX}.variant",
            f"pipper/acme_fast/v1-0-0.{MAC}.variant",
        ]
    )
    python = fresh_venv(tmp_path / "venv")
    result = cli("install", "acme_fast", "--python", str(python), "-b", bucket)
    assert result.exit_code == 0, result.stderr
    assert wheel_tag(python, "acme_fast") == LINUX


def test_first_platform_wheel_is_the_bundle_and_its_tags_are_marked(
    tmp_path: Path, bucket: str, s3_env: dict[str, str]
) -> None:
    publish(tmp_path, bucket, "solo", "1.0.0", LINUX)
    publish(tmp_path, bucket, "solo", "1.0.0", MAC)
    assert keys(s3_env, bucket) == sorted(
        [
            "pipper/solo/v1-0-0.pipper",
            f"pipper/solo/v1-0-0.{LINUX}.primary",
            f"pipper/solo/v1-0-0.{MAC}.variant",
        ]
    )
    # Here the marked bundle fits; for a Mac the variant is chosen.
    here = cli("download", "solo", "-d", str(tmp_path / "here"), "-b", bucket)
    assert here.exit_code == 0, here.stderr
    assert [p.name for p in (tmp_path / "here").iterdir()] == [f"solo-v1-0-0.{LINUX}.pipper"]
    mac = cli(
        "download", "solo", "-d", str(tmp_path / "mac"), "--platform", "macosx_11_0_arm64",
        "-b", bucket,
    )  # fmt: skip
    assert mac.exit_code == 0, mac.stderr
    assert [p.name for p in (tmp_path / "mac").iterdir()] == [f"solo-v1-0-0.{MAC}.pipper"]


def test_a_version_with_only_a_mac_wheel_is_skipped_for_an_older_one(
    tmp_path: Path, bucket: str
) -> None:
    publish(tmp_path, bucket, "tool", "1.0.0", PURE)
    publish(tmp_path, bucket, "tool", "2.0.0", MAC)
    here = cli("download", "tool", "-d", str(tmp_path / "here"), "--json", "-b", bucket)
    assert here.exit_code == 0, here.stderr
    assert [p["version"] for p in here.json()["packages"]] == ["1.0.0"]
    mac = cli(
        "download", "tool", "-d", str(tmp_path / "mac"), "--json", "--platform",
        "macosx_11_0_arm64", "--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}",
        "--implementation", "cp", "--abi", PY, "-b", bucket,
    )  # fmt: skip
    assert mac.exit_code == 0, mac.stderr
    assert [p["version"] for p in mac.json()["packages"]] == ["2.0.0"]
    assert sorted(p.name for p in (tmp_path / "mac").iterdir()) == [f"tool-v2-0-0.{MAC}.pipper"]


def test_no_fitting_wheel_names_the_package_the_target_and_the_tags(
    tmp_path: Path, bucket: str
) -> None:
    publish(tmp_path, bucket, "maconly", "1.0.0", MAC)
    publish(tmp_path, bucket, "maconly", "1.0.0", f"{PY}-{PY}-win_amd64")
    result = cli("download", "maconly", "-d", str(tmp_path / "out"), "-b", bucket)
    assert result.exit_code != 0
    line = result.stderr.strip().splitlines()[-1]
    assert "no wheel of maconly fits CPython" in line
    assert f"{PY}-{PY}-manylinux" in line or f"{PY}-{PY}-linux" in line  # the target's tags
    assert MAC in line and "win_amd64" in line  # the tags available
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_all_platforms_vendors_every_wheel_and_install_from_the_folder_chooses(
    tmp_path: Path, bucket: str
) -> None:
    publish(tmp_path, bucket, "acme_fast", "1.0.0", PURE, LINUX, MAC)
    vendor = tmp_path / "vendor"
    result = cli("download", "acme_fast", "-d", str(vendor), "--all-platforms", "-b", bucket)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in vendor.iterdir()) == sorted(
        [
            f"acme_fast-v1-0-0.{LINUX}.pipper",
            f"acme_fast-v1-0-0.{MAC}.pipper",
            "acme_fast-v1-0-0.pipper",
        ]
    )
    python = fresh_venv(tmp_path / "venv")
    installed = cli("install", "acme_fast", "--from", str(vendor), "--python", str(python))
    assert installed.exit_code == 0, installed.stderr
    assert wheel_tag(python, "acme_fast") == LINUX


def test_publishing_a_wheel_twice_is_refused_unless_forced(tmp_path: Path, bucket: str) -> None:
    bundles = publish(tmp_path, bucket, "twice", "1.0.0", PURE, LINUX)
    again = cli("publish", str(bundles[1]), "-b", bucket)
    assert again.exit_code == 8
    assert f"twice 1.0.0 (twice-1.0.0-{LINUX}.whl) is already published" in again.stderr
    forced = cli("publish", str(bundles[1]), "--force", "-b", bucket)
    assert forced.exit_code == 0, forced.stderr
    assert "(replaced)" in forced.stderr
    # Another wheel of the version is added, leaving the others as they are.
    more = make_bundle(tmp_path / "more", "twice", "1.0.0", tag=MAC)
    added = cli("publish", str(more), "-b", bucket)
    assert added.exit_code == 0, added.stderr
    info = cli("info", "twice", "--json", "-b", bucket)
    assert info.exit_code == 0, info.stderr
    (version,) = info.json()["versions"]
    assert sorted(w["tags"] for w in version["wheels"]) == sorted([LINUX, MAC, PURE])
    text = cli("info", "twice", "-b", bucket)
    assert text.exit_code == 0, text.stderr
    lines = [line.split() for line in text.stdout.splitlines()]
    assert sorted(parts[0] for parts in lines if len(parts) == 3) == sorted([LINUX, MAC, PURE])


def test_concurrent_publishes_of_two_wheels_of_one_version_keep_both(
    tmp_path: Path, bucket: str, s3_env: dict[str, str]
) -> None:
    linux = make_bundle(tmp_path / "a", "racer", "1.0.0", tag=LINUX)
    mac = make_bundle(tmp_path / "b", "racer", "1.0.0", tag=MAC)
    procs = [spawn("publish", str(path), "-b", bucket, env=s3_env) for path in (linux, mac)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    stored = keys(s3_env, bucket)
    assert "pipper/racer/v1-0-0.pipper" in stored
    marker_or_variant = [k for k in stored if not k.endswith(".pipper")]
    suffixes = sorted(k.rsplit(".", 1)[-1] for k in marker_or_variant)
    assert suffixes == ["primary", "variant"]  # one won the bundle, the other is beside it
    tags = {k.split(".", 1)[1].rsplit(".", 1)[0] for k in marker_or_variant}
    assert tags == {LINUX, MAC}
    for platform, tag in (("manylinux_2_17_x86_64", LINUX), ("macosx_11_0_arm64", MAC)):
        out = tmp_path / platform
        got = cli("download", "racer", "-d", str(out), "--platform", platform, "-b", bucket)
        assert got.exit_code == 0, got.stderr
        (path,) = out.iterdir()
        with __import__("zipfile").ZipFile(path) as zf:
            assert json.loads(zf.read("package.meta"))["wheel_name"] == f"racer-1.0.0-{tag}.whl"
