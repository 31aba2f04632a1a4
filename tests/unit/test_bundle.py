"""Bundles: writing them like the original, and refusing every way a hostile one can misbehave.

Building with real pip (and installing a written wheel) is in ``tests/system/test_build.py``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import stat
import time
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipper.build import build_failure_lines, build_wheel, bundle_project
from pipper.bundle import (
    MAX_WHEEL_BYTES,
    BundleMeta,
    extract_wheel,
    read_bundle,
    s3_metadata,
    write_bundle,
)
from pipper.errors import BundleError, NotFoundError, UsageError
from tests.lib.wheels import make_bundle, make_wheel, write_pyproject_project

WHEEL_NAME = "alpha_pkg-1.0.0-py3-none-any.whl"
Entries = Sequence[tuple[str | zipfile.ZipInfo, bytes | str]]


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _good_meta(**changes: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "dependencies": ["beta_pkg:>=1.0"],
        "name": "alpha_pkg",
        "version": "1.0.0",
        "safe_version": "v1-0-0",
        "wheel_name": WHEEL_NAME,
        "timestamp": "2026-01-28T10:00:00+00:00",
    }
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not None}


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path / "wheels", "alpha_pkg", "1.0.0", requires=["beta_pkg>=1.0"])


def _craft(
    path: Path,
    entries: Entries,
    *,
    patch: Callable[[zipfile.ZipFile], None] | None = None,
) -> Path:
    """Write a zip with exactly these entries; ``patch`` may edit the infos before the
    central directory is written, which is how a lying header is made."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
        if patch is not None:
            patch(zf)
    return path


def _standard(
    path: Path, wheel: Path, meta: dict[str, Any] | bytes | None = None, *extra: Any
) -> Path:
    meta_bytes = meta if isinstance(meta, bytes) else json.dumps(meta or _good_meta()).encode()
    entries = [("package.whl", wheel.read_bytes()), ("package.meta", meta_bytes), *extra]
    return _craft(path, entries)


# --- the wheel factory ---------------------------------------------------------------------


def test_make_wheel_is_a_consistent_wheel(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "Alpha.Pkg", "1.2.0", requires=["beta>=1"], payload_size=3000)
    assert path.name == "Alpha_Pkg-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(path) as zf:
        assert zf.read("Alpha_Pkg/__init__.py") == b'__version__ = "1.2.0"\n'
        metadata = zf.read("Alpha_Pkg-1.2.0.dist-info/METADATA").decode()
        assert "Name: Alpha.Pkg\n" in metadata
        assert "Requires-Dist: beta>=1\n" in metadata
        assert "Root-Is-Purelib: true" in zf.read("Alpha_Pkg-1.2.0.dist-info/WHEEL").decode()
        rows = zf.read("Alpha_Pkg-1.2.0.dist-info/RECORD").decode().splitlines()
        recorded = {row.split(",")[0] for row in rows}
        assert recorded == set(zf.namelist())
        for row in rows:
            name, digest, size = row.split(",")
            if name.endswith("RECORD"):
                continue
            data = zf.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode()
            assert int(size) == len(data)
        assert zf.getinfo("Alpha_Pkg/payload.bin").file_size == 3000


@pytest.mark.timing
def test_make_wheel_payload_is_big_incompressible_and_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    path = make_wheel(tmp_path, "big", "1.0", payload_size=20 * 1024 * 1024)
    elapsed = time.perf_counter() - started
    assert path.stat().st_size > 20 * 1024 * 1024
    assert elapsed < 2.0
    again = make_wheel(tmp_path / "again", "big", "1.0", payload_size=4096)
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(again) as b:
        assert a.open("big/payload.bin").read(4096) == b.read("big/payload.bin")


# --- writing ---------------------------------------------------------------------------------


def test_write_bundle_has_exactly_the_originals_layout(tmp_path: Path, wheel: Path) -> None:
    out = tmp_path / "out"
    path = write_bundle(wheel, out, {"dependencies": ["beta_pkg"]})
    assert path == out / "alpha_pkg-v1-0-0.pipper"
    assert sorted(p.name for p in out.iterdir()) == ["alpha_pkg-v1-0-0.pipper"]
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["package.meta", "package.whl"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert zf.read("package.whl") == wheel.read_bytes()
        meta = json.loads(zf.read("package.meta"))
    assert set(meta) == {
        "dependencies", "name", "version", "safe_version", "wheel_name", "timestamp",
        "requires_dist",  # ours: the wheel's Requires-Dist, which the original ignores
    }  # fmt: skip
    assert meta["name"] == "alpha_pkg"
    assert meta["version"] == "1.0.0"
    assert meta["safe_version"] == "v1-0-0"
    assert meta["wheel_name"] == WHEEL_NAME
    assert meta["dependencies"] == ["beta_pkg"]
    assert meta["requires_dist"] == ["beta_pkg>=1.0"]
    stamp = datetime.fromisoformat(meta["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(stamp.tzinfo) - stamp) < timedelta(minutes=5)


def test_write_bundle_keeps_the_wheel_names_spelling_and_given_timestamp(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w", "Gamma.Pkg", "2.1.0rc1")
    path = write_bundle(wheel, tmp_path, timestamp="2026-01-28T10:00:00+00:00")
    meta = read_bundle(path)
    assert meta.name == "Gamma_Pkg"
    assert meta.version == "2.1.0rc1"
    assert meta.timestamp == "2026-01-28T10:00:00+00:00"
    assert path.name == f"Gamma_Pkg-{meta.safe_version}.pipper"


def test_pipper_json_is_merged_but_cannot_override_identity(tmp_path: Path, wheel: Path) -> None:
    extra = {"dependencies": ["beta_pkg:1.2.*"], "pypi": ["requests==2.*"], "name": "evil"}
    meta = read_bundle(write_bundle(wheel, tmp_path, extra))
    assert meta.name == "alpha_pkg"
    assert meta.dependencies == ("beta_pkg:1.2.*",)
    assert meta.data["pypi"] == ["requests==2.*"]


def test_round_trip(tmp_path: Path, wheel: Path) -> None:
    path = write_bundle(wheel, tmp_path, {"dependencies": ["beta_pkg", "gamma_pkg:>=1.0"]})
    meta = read_bundle(path, expect_name="Alpha-Pkg", expect_version="1.0")
    assert isinstance(meta, BundleMeta)
    assert (meta.name, meta.version, meta.safe_version) == ("alpha_pkg", "1.0.0", "v1-0-0")
    assert meta.wheel_name == WHEEL_NAME
    assert meta.dependencies == ("beta_pkg", "gamma_pkg:>=1.0")
    assert meta.data["wheel_name"] == WHEEL_NAME
    assert meta.timestamp == meta.data["timestamp"]


def test_meta_without_dependencies_has_none(tmp_path: Path, wheel: Path) -> None:
    assert read_bundle(write_bundle(wheel, tmp_path)).dependencies == ()


def test_make_bundle(tmp_path: Path) -> None:
    path = make_bundle(tmp_path, "beta_pkg", "1.0.0", dependencies=["alpha_pkg"])
    assert path.name == "beta_pkg-v1-0-0.pipper"
    assert read_bundle(path).dependencies == ("alpha_pkg",)


def test_extract_wheel(tmp_path: Path, wheel: Path) -> None:
    path = write_bundle(wheel, tmp_path / "bundles")
    dest = tmp_path / "dest"
    before = _tree(tmp_path)
    extracted = extract_wheel(path, dest)
    assert extracted == dest / WHEEL_NAME
    assert extracted.read_bytes() == wheel.read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == [WHEEL_NAME]
    assert _tree(tmp_path) - before == {dest, extracted}


# --- building --------------------------------------------------------------------------------


# pip's layout when a build backend fails: the backend's output quoted, then pip's own notes.
_PIP_BUILD_FAILURE = """\
Processing ./broken
  Preparing metadata (pyproject.toml): started
  error: subprocess-exited-with-error

  \u00d7 Preparing metadata (pyproject.toml) did not run successfully.
  │ exit code: 1
  ╰─> [12 lines of output]
      running dist_info
      Traceback (most recent call last):
        File "/venv/lib/python3.12/site-packages/setuptools/build_meta.py", line 9, in run
          exec(code, locals())
        File "<string>", line 3, in <module>
          configure(
          ~~~~~~~~~^
      KeyError: 'version'

      During handling of the above exception, another exception occurred:

      ValueError: the project has no version
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
error: metadata-generation-failed

\u00d7 Encountered error while generating package metadata.
╰─> See above for output.
"""


def test_build_failure_lines_are_the_backends_own_without_frames() -> None:
    assert build_failure_lines(_PIP_BUILD_FAILURE) == [
        "running dist_info",
        "KeyError: 'version'",
        "During handling of the above exception, another exception occurred:",
        "ValueError: the project has no version",
    ]
    assert build_failure_lines(_PIP_BUILD_FAILURE, limit=1) == [
        "ValueError: the project has no version"
    ]


def test_build_failure_lines_without_a_quote_are_pips_last_lines() -> None:
    output = "Processing ./x\n\nERROR: Directory './x' is not installable.\n"
    assert build_failure_lines(output) == [
        "Processing ./x",
        "ERROR: Directory './x' is not installable.",
    ]
    assert build_failure_lines("") == ["(no output)"]


def test_build_wheel_needs_a_project(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        build_wheel(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"neither a pyproject\.toml nor a setup\.py"):
        build_wheel(tmp_path / "empty", tmp_path / "out")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_bundle_project_rejects_a_malformed_pipper_json(tmp_path: Path, content: str) -> None:
    project = write_pyproject_project(tmp_path / "proj")
    (project / "pipper.json").write_text(content)
    with pytest.raises(UsageError, match=r"pipper\.json"):
        bundle_project(project, tmp_path / "out", isolation=False)
    assert not (tmp_path / "out").exists()


# --- hostile bundles -------------------------------------------------------------------------


def _symlink_wheel(path: Path, wheel: Path) -> Path:
    info = zipfile.ZipInfo("package.whl")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _craft(
        path, [(info, b"/etc/passwd"), ("package.meta", json.dumps(_good_meta()).encode())]
    )


def _zip_bomb(path: Path, wheel: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("package.meta", json.dumps(_good_meta()))
        info = zipfile.ZipInfo("package.whl")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as out:
            zeros = bytes(1024 * 1024)
            for _ in range(50):
                out.write(zeros)
    return path


def _absurd_declared_size(path: Path, wheel: Path) -> Path:
    def patch(zf: zipfile.ZipFile) -> None:
        info = zf.getinfo("package.whl")
        info.file_size = info.compress_size = 10**13

    entries: Entries = [
        ("package.whl", wheel.read_bytes()),
        ("package.meta", json.dumps(_good_meta())),
    ]
    return _craft(path, entries, patch=patch)


def _stored_sizes_disagree(path: Path, wheel: Path) -> Path:
    def patch(zf: zipfile.ZipFile) -> None:
        zf.getinfo("package.whl").file_size -= 10

    entries: Entries = [
        ("package.whl", wheel.read_bytes()),
        ("package.meta", json.dumps(_good_meta())),
    ]
    return _craft(path, entries, patch=patch)


def _meta_declared_huge(path: Path, wheel: Path) -> Path:
    def patch(zf: zipfile.ZipFile) -> None:
        zf.getinfo("package.meta").file_size = 2 * 1024 * 1024

    entries: Entries = [
        ("package.whl", wheel.read_bytes()),
        ("package.meta", json.dumps(_good_meta())),
    ]
    return _craft(path, entries, patch=patch)


def _meta_really_huge(path: Path, wheel: Path) -> Path:
    meta = _good_meta(padding="x" * (1024 * 1024 + 10))
    return _standard(path, wheel, meta)


def _meta_lies_small(path: Path, wheel: Path) -> Path:
    """A deflated meta whose real size is over the cap but whose header says 100 bytes."""
    meta = json.dumps(_good_meta(padding=random.Random(1).randbytes(800_000).hex()))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("package.whl", wheel.read_bytes())
        zf.writestr("package.meta", meta, compress_type=zipfile.ZIP_DEFLATED)
        zf.getinfo("package.meta").file_size = 100
    return path


def _entry(name: str) -> Callable[[Path, Path], Path]:
    return lambda path, wheel: _standard(path, wheel, None, (name, b"x"))


def _meta(**changes: Any) -> Callable[[Path, Path], Path]:
    return lambda path, wheel: _standard(path, wheel, _good_meta(**changes))


def _raw_meta(data: bytes) -> Callable[[Path, Path], Path]:
    return lambda path, wheel: _standard(path, wheel, data)


HOSTILE: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "not-a-zip": (lambda p, w: (p.write_bytes(b"PK\x03\x04 garbage" * 10), p)[1], "not a zip"),
    "empty-file": (lambda p, w: (p.write_bytes(b""), p)[1], "not a zip"),
    "no-meta": (lambda p, w: _craft(p, [("package.whl", w.read_bytes())]), "no package.meta"),
    "no-wheel": (lambda p, w: _craft(p, [("package.meta", b"{}")]), "no package.whl"),
    "extra-entry": (_entry("README.txt"), "unexpected entries"),
    "duplicate-entry": (_entry("package.whl"), "duplicate"),
    "dotdot-entry": (_entry("../../evil.py"), "unsafe path"),
    "dotdot-inner": (_entry("a/../../evil.py"), "unsafe path"),
    "absolute-entry": (_entry("/tmp/evil.py"), "unsafe path"),
    "backslash-entry": (_entry("..\\..\\evil.py"), "unsafe path"),
    "drive-entry": (_entry("C:/evil.py"), "unsafe path"),
    "symlink-wheel": (_symlink_wheel, "symbolic link"),
    "zip-bomb": (_zip_bomb, "zip bomb"),
    "absurd-declared-size": (_absurd_declared_size, "declares"),
    "stored-sizes-disagree": (_stored_sizes_disagree, "inconsistent sizes"),
    "meta-declared-huge": (_meta_declared_huge, "declares"),
    "meta-really-huge": (_meta_really_huge, "declares|larger than"),
    "meta-lies-small": (_meta_lies_small, "corrupt|larger than"),
    "meta-not-json": (_raw_meta(b"{nope"), "not valid JSON"),
    "meta-not-utf8": (_raw_meta(b"\xff\xfe{}"), "not valid JSON"),
    "meta-a-list": (_raw_meta(b'["alpha_pkg"]'), "not a JSON object"),
    "meta-no-name": (_meta(name=None), "'name' is missing"),
    "meta-no-version": (_meta(version=None), "'version' is missing"),
    "meta-no-wheel-name": (_meta(wheel_name=None), "'wheel_name' is missing"),
    "meta-name-not-str": (_meta(name=["alpha_pkg"]), "'name' is not"),
    "meta-bad-name": (_meta(name="alpha pkg;rm"), "not a valid distribution name"),
    "meta-bad-version": (_meta(version="one"), "not a valid version"),
    "meta-version-newline": (_meta(version="1.0.0\n"), "not a valid version"),
    "wheel-name-slash": (_meta(wheel_name="../" + WHEEL_NAME), "not a plain file name"),
    "wheel-name-deep": (_meta(wheel_name="x/../../" + WHEEL_NAME), "not a plain file name"),
    "wheel-name-backslash": (_meta(wheel_name="..\\" + WHEEL_NAME), "not a plain file name"),
    "wheel-name-nul": (_meta(wheel_name=WHEEL_NAME + "\x00.txt"), "not a plain file name"),
    "wheel-name-not-wheel": (_meta(wheel_name="alpha_pkg.exe"), "not a wheel file name"),
    "wheel-name-other-pkg": (
        _meta(wheel_name="beta_pkg-1.0.0-py3-none-any.whl"),
        "does not match",
    ),
    "wheel-name-other-version": (
        _meta(wheel_name="alpha_pkg-2.0.0-py3-none-any.whl"),
        "does not match",
    ),
    "dependencies-a-string": (_meta(dependencies="beta_pkg"), "list of strings"),
    "dependencies-not-strings": (_meta(dependencies=["beta_pkg", 3]), "list of strings"),
    "dependencies-an-object": (_meta(dependencies={"beta_pkg": "1.0"}), "list of strings"),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_bundle_is_refused(tmp_path: Path, wheel: Path, case: str) -> None:
    craft, message = HOSTILE[case]
    path = craft(tmp_path / "hostile.pipper", wheel)
    dest = tmp_path / "jail" / "dest"
    dest.mkdir(parents=True)
    before = _tree(tmp_path)

    with pytest.raises(BundleError, match=message) as read_err:
        read_bundle(path)
    with pytest.raises(BundleError, match=message) as extract_err:
        extract_wheel(path, dest)

    for err in (read_err.value, extract_err.value):
        assert "\n" not in str(err)
        assert str(path) in str(err)
    assert list(dest.iterdir()) == []
    assert _tree(tmp_path) == before


def test_stored_wheel_with_lying_sizes_is_not_extracted(tmp_path: Path, wheel: Path) -> None:
    def patch(zf: zipfile.ZipFile) -> None:
        info = zf.getinfo("package.whl")
        info.file_size = info.compress_size = info.file_size // 2

    entries: Entries = [
        ("package.whl", wheel.read_bytes()),
        ("package.meta", json.dumps(_good_meta())),
    ]
    path = _craft(tmp_path / "liar.pipper", entries, patch=patch)
    dest = tmp_path / "dest"
    with pytest.raises(BundleError, match="corrupt"):
        extract_wheel(path, dest)
    assert list(dest.iterdir()) == []


def test_extract_stops_at_the_declared_size(
    tmp_path: Path, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zipfile itself stops at the declared size; the copy must not rely on that alone."""
    path = write_bundle(wheel, tmp_path)
    real_open = zipfile.ZipFile.open

    def open_more(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        entry = name.filename if isinstance(name, zipfile.ZipInfo) else name
        if entry == "package.whl":
            return io.BytesIO(wheel.read_bytes() + b"\x00" * (3 * 1024 * 1024))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_more)
    dest = tmp_path / "dest"
    with pytest.raises(BundleError, match="more bytes than it declares"):
        extract_wheel(path, dest)
    assert list(dest.iterdir()) == []


def test_meta_is_capped_by_real_bytes_too(
    tmp_path: Path, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_bundle(wheel, tmp_path)
    real_open = zipfile.ZipFile.open

    def open_more(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        entry = name.filename if isinstance(name, zipfile.ZipInfo) else name
        if entry == "package.meta":
            return io.BytesIO(b" " * (2 * 1024 * 1024))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_more)
    with pytest.raises(BundleError, match="larger than"):
        read_bundle(path)


def test_extract_refuses_a_wheel_that_is_not_a_zip(tmp_path: Path, wheel: Path) -> None:
    path = _craft(
        tmp_path / "b.pipper",
        [("package.whl", b"#!/bin/sh\necho hi\n"), ("package.meta", json.dumps(_good_meta()))],
    )
    read_bundle(path)
    dest = tmp_path / "dest"
    with pytest.raises(BundleError, match="not a wheel"):
        extract_wheel(path, dest)
    assert list(dest.iterdir()) == []


def test_wheel_limit_is_eight_gib() -> None:
    assert MAX_WHEEL_BYTES == 8 * 1024**3


def test_missing_bundle_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_bundle(tmp_path / "nope.pipper")


@pytest.mark.parametrize(
    ("name", "version", "said"),
    [
        ("beta_pkg", None, "its key says beta_pkg 1.0.0"),
        (None, "2.0", "its key says alpha_pkg 2.0"),
        ("alpha_pkg", "1.0.1", "its key says alpha_pkg 1.0.1"),
    ],
)
def test_bundle_under_the_wrong_key_is_refused(
    tmp_path: Path, wheel: Path, name: str | None, version: str | None, said: str
) -> None:
    path = write_bundle(wheel, tmp_path)
    with pytest.raises(BundleError, match=re.escape(f"bundle says alpha_pkg 1.0.0 but {said}")):
        read_bundle(path, expect_name=name, expect_version=version)


def test_expectations_compare_normalised(tmp_path: Path, wheel: Path) -> None:
    path = write_bundle(wheel, tmp_path)
    assert read_bundle(path, expect_name="ALPHA.pkg", expect_version="1.0").name == "alpha_pkg"


# --- S3 user metadata ------------------------------------------------------------------------


def _size(fields: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in fields.items())


def test_s3_metadata_carries_the_originals_fields(tmp_path: Path, wheel: Path) -> None:
    meta = read_bundle(write_bundle(wheel, tmp_path, {"dependencies": ["beta_pkg"]}))
    fields = s3_metadata(meta, "ab" * 32)
    assert set(fields) == {"name", "version", "safe_version", "timestamp", "package", "sha256"}
    assert fields["sha256"] == "ab" * 32
    assert (fields["name"], fields["version"], fields["safe_version"]) == (
        "alpha_pkg",
        "1.0.0",
        "v1-0-0",
    )
    assert json.loads(fields["package"]) == dict(meta.data)
    assert " " not in fields["package"]


def test_s3_metadata_is_printable_ascii(tmp_path: Path, wheel: Path) -> None:
    extra = {"description": "caf\u00e9 \u2603\nline two"}
    path = write_bundle(wheel, tmp_path, extra, timestamp="2026-01-28T10:00:00\u00b1\r\n")
    fields = s3_metadata(read_bundle(path), "00" * 32)
    assert all(v.isascii() and v.isprintable() for v in fields.values())
    assert json.loads(fields["package"])["description"] == extra["description"]
    assert fields["timestamp"] == "2026-01-28T10:00:00\\u00b1\\r\\n"


def test_s3_metadata_drops_package_when_over_two_kb(tmp_path: Path, wheel: Path) -> None:
    deps = [f"dependency_number_{i}:>=1.0" for i in range(200)]
    meta = read_bundle(write_bundle(wheel, tmp_path, {"dependencies": deps}))
    fields = s3_metadata(meta, "cd" * 32)
    assert "package" not in fields
    assert fields["sha256"] == "cd" * 32
    assert fields["name"] == "alpha_pkg"
    assert _size(fields) <= 2000


def test_s3_metadata_keeps_package_up_to_the_limit(tmp_path: Path, wheel: Path) -> None:
    """The cut is at 2000 bytes of keys and values: fill to exactly that, then one byte more."""
    meta = read_bundle(write_bundle(wheel, tmp_path, {"notes": ""}))
    room = 2000 - _size(s3_metadata(meta, "ef" * 32))
    fits = read_bundle(write_bundle(wheel, tmp_path, {"notes": "n" * room}))
    over = read_bundle(write_bundle(wheel, tmp_path, {"notes": "n" * (room + 1)}))
    assert _size(s3_metadata(fits, "ef" * 32)) == 2000
    assert "package" in s3_metadata(fits, "ef" * 32)
    assert "package" not in s3_metadata(over, "ef" * 32)
