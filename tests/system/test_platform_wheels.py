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
from tests.lib.s3servers import S3Server
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


def keys(s3_server: S3Server, bucket: str) -> list[str]:
    """The bundle keys (the simple index under ``pipper/~simple/`` left out)."""
    listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix="pipper/")
    found = (o["Key"] for o in listing.get("Contents", []))
    return sorted(k for k in found if not k.startswith("pipper/~simple/"))


def index_files(s3_server: S3Server, bucket: str, project: str) -> dict[str, str]:
    """The simple index's files of ``project`` and the sha256 each entry gives, from its JSON."""
    body = s3_server.client().get_object(Bucket=bucket, Key=f"pipper/~simple/{project}/index.json")
    page = json.loads(body["Body"].read())
    return {f["filename"]: f["hashes"]["sha256"] for f in page["files"]}


def test_three_wheels_of_one_version_install_picks_this_platform(
    tmp_path: Path, bucket: str, s3_server: S3Server
) -> None:
    publish(tmp_path, bucket, "acme_fast", "1.0.0", PURE, LINUX, MAC)
    stored = keys(s3_server, bucket)
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
    # The simple index lists every wheel of the version, each with its own sha256.
    files = index_files(s3_server, bucket, "acme-fast")
    assert sorted(files) == sorted(f"acme_fast-1.0.0-{tag}.whl" for tag in (PURE, LINUX, MAC))
    assert len(set(files.values())) == 3
    check = cli("index", "check", "-b", bucket)  # every variant is one of the index's bundles
    assert check.exit_code == 0, check.stdout + check.stderr


def test_first_platform_wheel_is_the_bundle_and_its_tags_are_marked(
    tmp_path: Path, bucket: str, s3_server: S3Server
) -> None:
    publish(tmp_path, bucket, "solo", "1.0.0", LINUX)
    publish(tmp_path, bucket, "solo", "1.0.0", MAC)
    assert keys(s3_server, bucket) == sorted(
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
    tmp_path: Path, bucket: str, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    linux = make_bundle(tmp_path / "a", "racer", "1.0.0", tag=LINUX)
    mac = make_bundle(tmp_path / "b", "racer", "1.0.0", tag=MAC)
    procs = [spawn("publish", str(path), "-b", bucket, env=s3_env) for path in (linux, mac)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    stored = keys(s3_server, bucket)
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


def test_a_lock_records_the_wheel_and_its_target_and_refuses_another_interpreter(
    tmp_path: Path, bucket: str
) -> None:
    publish(tmp_path, bucket, "acme_fast", "1.0.0", PURE, LINUX, MAC)
    lock_file = tmp_path / "mac.lock"
    made = cli(
        "lock", "acme_fast", "-o", str(lock_file), "--platform", "macosx_11_0_arm64",
        "--private-only", "-b", bucket,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    data = json.loads(lock_file.read_text())
    (package,) = data["packages"]
    assert package["wheel"] == f"acme_fast-1.0.0-{MAC}.whl"
    assert package["key"] == f"pipper/acme_fast/v1-0-0.{MAC}.variant"
    assert "macosx_11_0_arm64" in data["target"]
    python = fresh_venv(tmp_path / "venv")
    refused = cli("install", "--lock", str(lock_file), "--python", str(python), "-b", bucket)
    assert refused.exit_code == 2, refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert "made for CPython" in line and "macosx_11_0_arm64" in line
    assert f"acme_fast-1.0.0-{MAC}.whl" in line and "run 'pipper lock' again" in line
    assert "acme_fast" not in json.dumps(installed_names(python))
    # Locked for this interpreter, the same graph installs the Linux wheel.
    here = tmp_path / "here.lock"
    assert cli("lock", "acme_fast", "-o", str(here), "--private-only", "-b", bucket).exit_code == 0
    done = cli("install", "--lock", str(here), "--python", str(python), "-b", bucket)
    assert done.exit_code == 0, done.stderr
    assert wheel_tag(python, "acme_fast") == LINUX


def test_an_unmarked_platform_bundle_is_refused_before_the_installer_runs(
    tmp_path: Path, bucket: str, s3_server: S3Server
) -> None:
    """A bundle the original published holds a wheel whose tags no listing shows."""
    bundle = make_bundle(tmp_path, "oldfast", "1.0.0", tag=f"{PY}-{PY}-macosx_11_0_arm64")
    s3_server.client().put_object(
        Bucket=bucket, Key="pipper/oldfast/v1-0-0.pipper", Body=bundle.read_bytes()
    )
    vendored = cli("download", "oldfast", "-d", str(tmp_path / "v"), "-b", bucket)
    assert vendored.exit_code == 0, vendored.stderr  # vendoring for another machine is fine
    python = fresh_venv(tmp_path / "venv")
    refused = cli("install", "oldfast", "--python", str(python), "-b", bucket)
    assert refused.exit_code != 0
    line = refused.stderr.strip().splitlines()[-1]
    assert f"oldfast 1.0.0 holds oldfast-1.0.0-{MAC}.whl, which does not fit CPython" in line


def installed_names(python: Path) -> list[str]:
    from tests.lib.venvs import installed_in

    return sorted(installed_in(python))


def test_delete_removes_every_wheel_of_the_version_and_yank_covers_them_all(
    tmp_path: Path, bucket: str, s3_server: S3Server
) -> None:
    publish(tmp_path, bucket, "gone", "1.0.0", LINUX, MAC)
    publish(tmp_path, bucket, "gone", "2.0.0", PURE, MAC)
    yanked = cli("yank", "gone", "2.0.0", "--reason", "broken", "-b", bucket)
    assert yanked.exit_code == 0, yanked.stderr
    mac = cli(
        "download", "gone", "-d", str(tmp_path / "mac"), "--json", "--platform",
        "macosx_11_0_arm64", "-b", bucket,
    )  # fmt: skip
    assert mac.exit_code == 0, mac.stderr
    assert [p["version"] for p in mac.json()["packages"]] == ["1.0.0"]  # 2.0.0's wheels: yanked
    deleted = cli("delete", "gone", "1.0.0", "--yes", "-b", bucket)
    assert deleted.exit_code == 0, deleted.stderr
    assert [k for k in keys(s3_server, bucket) if "v1-0-0" in k] == []
    assert any(k.endswith("v2-0-0.pipper") for k in keys(s3_server, bucket))


def test_authorized_urls_name_the_chosen_wheel_and_work_with_no_credentials(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(tmp_path, bucket, "acme_fast", "1.0.0", PURE, LINUX, MAC)
    urls_file = tmp_path / "urls.json"
    made = cli("authorize", "acme_fast", "-o", str(urls_file), "-b", bucket)
    assert made.exit_code == 0, made.stderr
    (url,) = json.loads(urls_file.read_text())["dependencies"]
    assert url.split("?")[0].endswith(f"/acme_fast/v1-0-0.{LINUX}.variant")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    out = tmp_path / "out"
    got = cli("download", "-i", str(urls_file), "-d", str(out), "--cache-dir", str(tmp_path / "c"))
    assert got.exit_code == 0, got.stderr
    assert [p.name for p in out.iterdir()] == [f"acme_fast-v1-0-0.{LINUX}.pipper"]
