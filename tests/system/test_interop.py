"""Compatibility with the original pipper 0.11.1: same keys, same bundle, same metadata."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lib.cli import cli, publish_graph
from tests.lib.s3servers import S3Server
from tests.lib.wheels import make_wheel


def original_style_bundle(
    tmp_path: Path, name: str, version: str, wheel_version: str, dependencies: list[str]
) -> tuple[bytes, dict[str, str]]:
    """A bundle and its object metadata exactly as the original's bundle + publish write them."""
    wheel = make_wheel(tmp_path, name, wheel_version)
    safe = (
        "v"
        + version.replace("-alpha.1", "").replace(".", "-")
        + ("__pre_alpha_1" if "-alpha.1" in version else "")
    )
    meta: dict[str, object] = {
        "dependencies": dependencies,
        "name": name,
        "version": version,
        "safe_version": safe,
        "wheel_name": wheel.name,
        "timestamp": "2026-01-28T10:00:00+00:00",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w") as zipper:  # the original's defaults: stored
        zipper.write(wheel, "package.whl")
        zipper.writestr("package.meta", json.dumps(meta))
    metadata = {
        "package": json.dumps(meta),
        "version": version,
        "safe_version": safe,
        "name": name,
        "timestamp": str(meta["timestamp"]),
    }
    return buffer.getvalue(), metadata


def test_reads_a_bucket_written_by_the_original(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    client = s3_server.client()
    for name, version, wheel_version, deps in [
        ("alpha_pkg", "1.0.0", "1.0.0", []),
        ("beta_pkg", "1.2.3-alpha.1", "1.2.3a1", ["alpha_pkg"]),
    ]:
        body, metadata = original_style_bundle(tmp_path, name, version, wheel_version, deps)
        client.put_object(
            Bucket=bucket,
            Key=f"team/pkgs/{name}/{metadata['safe_version']}.pipper",
            Body=body,
            ContentType="application/zip",
            Metadata=metadata,
        )
    client.put_object(Bucket=bucket, Key="team/pkgs/alpha_pkg/notes.txt", Body=b"hello")
    repo = ["-b", bucket, "--prefix", "team/pkgs"]
    result = cli("download", "beta_pkg", "--pre", "-d", str(tmp_path / "v"), "--json", *repo)
    assert result.exit_code == 0, result.stderr
    assert "skipping team/pkgs/alpha_pkg/notes.txt" in result.stderr
    files = sorted(p.name for p in (tmp_path / "v").iterdir())
    assert files == ["alpha_pkg-v1-0-0.pipper", "beta_pkg-v1-2-3__pre_alpha_1.pipper"]
    info = cli("info", "beta_pkg", "--json", *repo)
    assert info.json()["versions"][0]["key"] == "team/pkgs/beta_pkg/v1-2-3__pre_alpha_1.pipper"


def test_what_we_publish_has_the_originals_entries_and_fields(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    bundles = publish_graph(tmp_path, ["-b", bucket], {"alpha_pkg": {"1.0.0": ["beta_pkg:1.*"]}})
    head = s3_server.client().head_object(Bucket=bucket, Key="pipper/alpha_pkg/v1-0-0.pipper")
    assert head["ContentType"] == "application/zip"
    metadata = head["Metadata"]
    assert {"name", "version", "safe_version", "timestamp", "package", "sha256"} <= set(metadata)
    assert (metadata["name"], metadata["version"], metadata["safe_version"]) == (
        "alpha_pkg",
        "1.0.0",
        "v1-0-0",
    )
    package = json.loads(metadata["package"])
    assert package["dependencies"] == ["beta_pkg:1.*"]
    assert package["requires_dist"] == ["beta_pkg"]  # ours: the wheel's Requires-Dist
    import hashlib

    local = bundles / "alpha_pkg-v1-0-0.pipper"
    assert metadata["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
    with zipfile.ZipFile(local) as zf:
        assert sorted(zf.namelist()) == ["package.meta", "package.whl"]
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
        meta = json.loads(zf.read("package.meta"))
    assert set(meta) >= {"name", "version", "safe_version", "wheel_name", "timestamp"}
    assert meta["wheel_name"] == "alpha_pkg-1.0.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def original_pipper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The original pipper 0.11.1 from PyPI, in a virtual environment of its own."""
    venv = tmp_path_factory.mktemp("original") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pipper==0.11.1"],
        check=True,
        timeout=600,
    )
    yield venv / "bin" / "pipper"


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(900)  # installing the original from PyPI may take minutes on a cold cache
def test_the_original_and_this_project_share_one_bucket(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str], original_pipper: Path
) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # never shadow its pipper
    env["AWS_ENDPOINT_URL"] = s3_server.endpoint_url
    bundles = publish_graph(tmp_path, ["-b", bucket], {"ours_pkg": {"1.0.0": []}})
    # The original downloads what we published...
    got = tmp_path / "from-original"
    subprocess.run(
        [str(original_pipper), "download", "ours_pkg", "-d", str(got), "-b", bucket],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    downloaded = list(got.glob("*.pipper"))
    assert len(downloaded) == 1
    assert downloaded[0].read_bytes() == (bundles / "ours_pkg-v1-0-0.pipper").read_bytes()
    # ...and installs it, reading a package.meta with fields it does not know (requires_dist).
    subprocess.run(
        [str(original_pipper), "install", "ours_pkg", "-b", bucket],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    python = original_pipper.parent / "python"
    imported = subprocess.run(
        [str(python), "-c", "import ours_pkg; print(ours_pkg.__version__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert imported.stdout.strip() == "1.0.0", imported.stderr
    # ...and publishes a bundle that we then download and verify.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    from tests.lib.wheels import make_bundle

    bundle = make_bundle(theirs, "theirs_pkg", "2.1.0", dependencies=["ours_pkg"])
    subprocess.run(
        [str(original_pipper), "publish", str(bundle), "-b", bucket],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = cli("download", "theirs_pkg", "-d", str(tmp_path / "v"), "--json", "-b", bucket)
    assert result.exit_code == 0, result.stderr
    names = {p["name"]: p["version"] for p in result.json()["packages"]}
    assert names == {"theirs_pkg": "2.1.0", "ours_pkg": "1.0.0"}
    assert (tmp_path / "v" / "theirs_pkg-v2-1-0.pipper").read_bytes() == bundle.read_bytes()


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(900)
def test_the_original_reads_a_bucket_with_several_wheels_per_version(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str], original_pipper: Path
) -> None:
    """Variants and tags markers sit where the original never looks: it lists, downloads and
    installs the version's ``.pipper`` bundle as if they were not there."""
    import os

    from tests.lib.wheels import make_bundle

    py = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    dist = tmp_path / "dist"
    pure = make_bundle(dist, "multi_pkg", "1.0.0")
    for tag in (f"{py}-{py}-manylinux_2_17_x86_64", f"{py}-{py}-macosx_11_0_arm64"):
        make_bundle(dist, "multi_pkg", "1.0.0", tag=tag)
    make_bundle(dist, "multi_pkg", "0.9.0", tag=f"{py}-{py}-manylinux_2_17_x86_64")  # marked
    published = cli("publish", str(dist), "-b", bucket)
    assert published.exit_code == 0, published.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["AWS_ENDPOINT_URL"] = s3_server.endpoint_url

    def original(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(original_pipper), *args, "-b", bucket],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    got = tmp_path / "from-original"
    original("download", "multi_pkg", "-d", str(got))
    (downloaded,) = got.glob("*.pipper")
    assert downloaded.read_bytes() == pure.read_bytes()  # the pure wheel, the version's bundle
    shown = original("info", "multi_pkg")  # the original's info shows the latest version only
    assert "1.0.0" in shown.stdout
    older = tmp_path / "older"
    original("download", "multi_pkg:0.9.0", "-d", str(older))  # a marked platform bundle
    assert [p.name for p in older.glob("*.pipper")] == ["multi_pkg-0.9.0.pipper"]
    original("install", "multi_pkg")
    python = original_pipper.parent / "python"
    imported = subprocess.run(
        [str(python), "-c", "import multi_pkg as m; print(m.__version__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert imported.stdout.strip() == "1.0.0", imported.stderr


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(900)
def test_the_original_ignores_the_simple_index_and_rebuild_indexes_what_it_publishes(
    tmp_path: Path,
    moto_server: S3Server,
    moto_bucket: str,
    moto_env: dict[str, str],
    original_pipper: Path,
) -> None:
    """On moto, which keeps every index key as AWS S3 does (``~simple/<project>/`` included):
    the original lists, downloads and publishes beside a full index, and a bundle it publishes
    is what ``index check`` finds missing and ``index rebuild`` adds."""
    import os

    from pipper.simple.pages import parse_project
    from tests.lib.wheels import make_bundle

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def original(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(original_pipper), *args, "-b", moto_bucket],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done

    bundles = publish_graph(tmp_path, ["-b", moto_bucket], {"ours_pkg": {"1.0.0": [], "1.1.0": []}})
    client = moto_server.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=moto_bucket)["Contents"]]
    assert "pipper/~simple/ours-pkg/" in keys  # the full layout, folder key included
    assert "1.1.0" in original("info", "ours_pkg").stdout
    got = tmp_path / "got"
    original("download", "ours_pkg:1.1.0", "-d", str(got))
    assert [p.read_bytes() for p in got.glob("*.pipper")] == [
        (bundles / "ours_pkg-v1-1-0.pipper").read_bytes()
    ]

    theirs = make_bundle(tmp_path / "theirs", "theirs_pkg", "2.1.0", dependencies=["ours_pkg"])
    original("publish", str(theirs))
    check = cli("index", "check", "-b", moto_bucket)
    assert check.exit_code == 12
    assert (
        "missing: theirs_pkg 2.1.0 (pipper/theirs_pkg/v2-1-0.pipper) is not in the index"
        in check.stdout.splitlines()
    )
    rebuilt = cli("index", "rebuild", "-b", moto_bucket)
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert cli("index", "check", "--hashes", "-b", moto_bucket).exit_code == 0
    page = client.get_object(Bucket=moto_bucket, Key="pipper/~simple/theirs-pkg/")["Body"].read()
    (entry,) = parse_project(page, "page").files
    with zipfile.ZipFile(theirs) as zf:
        wheel = zf.read("package.whl")
    import hashlib

    assert entry.sha256 == hashlib.sha256(wheel).hexdigest()
    original("download", "theirs_pkg", "-d", str(tmp_path / "again"))
