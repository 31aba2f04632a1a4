"""Build a wheel, write a ``.pipper`` bundle, and open one without trusting it.

A bundle is a zip of exactly two stored entries, ``package.whl`` and ``package.meta`` (JSON), as
the original pipper writes them. Bundles come from a shared bucket that anyone with write access
can fill, so reading one assumes it may be hostile: every entry name, size, compression ratio and
meta field is checked before a byte is inflated, and the wheel is only ever written under the
directory the caller names.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import types
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pipper.errors import BuildError, BundleError, NotFoundError, UsageError
from pipper.fsutil import atomic_writer, replace_into, temp_file
from pipper.keys import bundle_filename, safe_version
from pipper.versions import NAME_PATTERN, normalize_name

log = logging.getLogger(__name__)

WHEEL_ENTRY = "package.whl"
META_ENTRY = "package.meta"
MAX_WHEEL_BYTES = 8 * 1024**3
MAX_META_BYTES = 1024 * 1024
MAX_COMPRESSION_RATIO = 200
S3_METADATA_LIMIT = 2000
CHUNK_BYTES = 1024 * 1024

_BUILD_FAILURE_LINES = 5
_QUOTE_START = re.compile(r"\[\d+ lines? of output\]\s*$")
_QUOTE_END = "[end of output]"
# Errors zipfile raises on malformed archives besides BadZipFile (truncated central
# directories, unsupported or encrypted entries, corrupt deflate streams).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    OSError,
)


@dataclass(frozen=True)
class BundleMeta:
    """What a validated ``package.meta`` says, plus the raw dict for fields pipper does not use."""

    name: str
    version: str
    safe_version: str
    wheel_name: str
    timestamp: str
    dependencies: tuple[str, ...]
    data: Mapping[str, Any]
    requires_dist: tuple[str, ...] | None = None
    """The wheel's ``Requires-Dist`` as ``pipper bundle`` recorded it; ``None`` in bundles
    written without it (the original's): then the wheel itself says."""
    pypi: tuple[str, ...] = ()


def build_wheel(project_dir: Path, out_dir: Path, *, isolation: bool = True) -> Path:
    """Build the project's wheel with pip and move it into ``out_dir``.

    pip writes into a fresh temporary directory so a stale wheel of an older version (in the
    project's ``dist/`` or in ``out_dir``) can never be mistaken for the one just built.
    """
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise UsageError(f"{project_dir} is not a directory")
    if not (project_dir / "pyproject.toml").is_file() and not (project_dir / "setup.py").is_file():
        raise UsageError(f"{project_dir} has neither a pyproject.toml nor a setup.py")
    with tempfile.TemporaryDirectory(prefix="pipper-wheel-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-input",
            "--disable-pip-version-check",
            "-w",
            tmp,
        ]
        if not isolation:
            cmd.append("--no-build-isolation")
        # An absolute path, so pip never reads a bare directory name as a requirement.
        cmd.append(str(project_dir.resolve()))
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            check=False,
        )
        if proc.returncode != 0:
            log.debug("pip wheel said:\n%s", proc.stdout)
            said = "\n".join(f"  {line}" for line in build_failure_lines(proc.stdout))
            raise BuildError(
                f"building a wheel of {project_dir} failed (pip exited with code "
                f"{proc.returncode}):\n{said}"
            )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            found = ", ".join(w.name for w in wheels) or "none"
            raise BuildError(
                f"building {project_dir} should give exactly one wheel, pip gave {found}"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        return _move_into(wheels[0], out_dir)


def build_failure_lines(output: str, limit: int = _BUILD_FAILURE_LINES) -> list[str]:
    """The last lines of a failed build that say why, for a message that starts at the cause.

    pip quotes the build backend's output between ``[N lines of output]`` and ``[end of
    output]`` and follows it with its own notes ("See above for output"); the quote is used when
    there is one. Traceback frames (``File "..."`` and the source lines under them), the
    ``Traceback`` header and blank lines are left out: the exception's own line is what tells.
    """
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if _QUOTE_START.search(line)]
    quoted: list[str] = []
    if starts:
        rest = lines[starts[-1] + 1 :]
        end = next((i for i, line in enumerate(rest) if line.strip() == _QUOTE_END), len(rest))
        quoted = rest[:end]
    return (_without_frames(quoted) or _without_frames(lines) or ["(no output)"])[-limit:]


def _without_frames(lines: list[str]) -> list[str]:
    kept: list[str] = []
    frame_indent: int | None = None
    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if frame_indent is not None and text and indent > frame_indent:
            continue  # the source line (and its ^^^ markers) a frame shows
        frame_indent = None
        if text.startswith('File "'):
            frame_indent = indent
        elif text and not text.startswith("Traceback (most recent call last)"):
            kept.append(text)
    return kept


def bundle_project(project_dir: Path, out_dir: Path, *, isolation: bool = True) -> Path:
    """Build the project's wheel and bundle it with its ``pipper.json``."""
    from pipper.requirements import declaration_warnings

    project_dir = Path(project_dir)
    extra = _read_pipper_json(project_dir / "pipper.json")
    with tempfile.TemporaryDirectory(prefix="pipper-bundle-") as tmp:
        wheel = build_wheel(project_dir, Path(tmp), isolation=isolation)
        bundle = write_bundle(wheel, out_dir, extra)
    for warning in declaration_warnings(extra, read_bundle(bundle).requires_dist or ()):
        log.warning("%s: %s", project_dir, warning)
    return bundle


def write_bundle(
    wheel: Path,
    out_dir: Path,
    extra: Mapping[str, Any] | None = None,
    *,
    timestamp: str | None = None,
) -> Path:
    """Write ``<name>-<safe_version>.pipper`` for ``wheel`` into ``out_dir``, atomically.

    ``name`` and ``version`` are the wheel file name's parts as written (the original keys
    bundles by them unnormalised); ``extra`` (a project's ``pipper.json``) cannot override them.
    The wheel's ``Requires-Dist`` is recorded as ``requires_dist``, so a resolver learns a
    package's requirements from the object's metadata without its body (the original ignores
    fields it does not know).
    """
    from pipper.requirements import REQUIRES_DIST, requires_dist_of_wheel

    wheel = Path(wheel)
    if not wheel.is_file():
        raise UsageError(f"no wheel at {wheel}")
    try:
        parse_wheel_filename(wheel.name)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        raise BundleError(f"{wheel.name} is not a valid wheel file name") from exc
    name, version = wheel.name.split("-")[:2]
    try:
        safe = safe_version(version)
    except ValueError as exc:
        raise BundleError(f"{wheel.name}: cannot key version {version!r}: {exc}") from exc
    meta: dict[str, Any] = dict(extra or {})
    meta.update(
        name=name,
        version=version,
        safe_version=safe,
        wheel_name=wheel.name,
        timestamp=timestamp or datetime.now(UTC).isoformat(),
    )
    with wheel.open("rb") as wheel_file:
        meta[REQUIRES_DIST] = list(requires_dist_of_wheel(wheel_file, wheel.name))
    try:
        meta_bytes = json.dumps(meta).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the bundle's meta cannot be written as JSON: {exc}") from exc

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / bundle_filename(name, version)
    with (
        atomic_writer(dest, fsync=False, mode=0o644) as handle,
        zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, strict_timestamps=False) as zf,
    ):
        zf.write(wheel, WHEEL_ENTRY)
        now = datetime.now(UTC)
        info = zipfile.ZipInfo(
            META_ENTRY,
            date_time=(now.year, now.month, now.day, now.hour, now.minute, now.second),
        )
        info.external_attr = 0o644 << 16
        zf.writestr(info, meta_bytes)
    return dest


def read_bundle(
    path: Path,
    *,
    expect_name: str | None = None,
    expect_version: str | None = None,
) -> BundleMeta:
    """Validate a bundle without extracting anything and return its meta.

    ``expect_name``/``expect_version`` are what the bundle's key in the store promised; a
    bundle uploaded under another package's key is refused rather than installed.
    """
    path = Path(path)
    with _open_zip(path) as zf:
        return _validate(path, zf, expect_name, expect_version)


def extract_wheel(bundle: Path, dest_dir: Path) -> Path:
    """Validate ``bundle`` and write its wheel to ``dest_dir / wheel_name``, atomically.

    The copy counts real bytes against the declared size and the limit, so an entry whose
    header lies cannot fill the disk; on any failure the partial file is removed.
    """
    bundle = Path(bundle)
    dest_dir = Path(dest_dir)
    with _open_zip(bundle) as zf:
        meta = _validate(bundle, zf, None, None)
        info = zf.getinfo(WHEEL_ENTRY)
        limit = min(info.file_size, MAX_WHEEL_BYTES)
        dest_dir.mkdir(parents=True, exist_ok=True)
        if os.path.basename(meta.wheel_name) != meta.wheel_name:
            raise BundleError(f"{bundle}: wheel name {meta.wheel_name!r} leaves {dest_dir}")
        dest = dest_dir / meta.wheel_name
        with temp_file(dest_dir, suffix=".whl") as (tmp, handle):
            _copy_limited(bundle, zf, info, handle, limit)
            handle.flush()
            if not zipfile.is_zipfile(tmp):
                raise BundleError(f"{bundle}: {WHEEL_ENTRY} is not a wheel (not a zip archive)")
            replace_into(tmp, dest, fsync=False, handle=handle, mode=0o644)
    return dest


def s3_metadata(meta: BundleMeta, sha256: str) -> dict[str, str]:
    """The S3 user metadata the original writes, plus ``sha256``, within S3's 2 KB cap.

    ``package`` (the whole meta) is the only field that can grow, so it is the one dropped;
    readers of this project take the meta from the bundle itself anyway.
    """
    fields = {
        "name": _ascii(meta.name),
        "version": _ascii(meta.version),
        "safe_version": _ascii(meta.safe_version),
        "timestamp": _ascii(meta.timestamp),
        "package": json.dumps(dict(meta.data), separators=(",", ":"), ensure_ascii=True),
        "sha256": _ascii(sha256),
    }
    if _metadata_size(fields) > S3_METADATA_LIMIT:
        del fields["package"]
        log.debug("meta of %s %s too big for S3 user metadata; left out", meta.name, meta.version)
    if _metadata_size(fields) > S3_METADATA_LIMIT:
        raise BundleError(f"the meta of {meta.name} {meta.version} does not fit S3's 2 KB")
    return fields


def _metadata_size(fields: Mapping[str, str]) -> int:
    return sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in fields.items())


def _ascii(value: str) -> str:
    """S3 sends user metadata as HTTP headers, which carry only printable ASCII safely."""
    if value.isascii() and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=True)[1:-1]


def _read_pipper_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def _move_into(src: Path, out_dir: Path) -> Path:
    """Move ``src`` into ``out_dir`` so the name appears only once the bytes are complete."""
    dest = out_dir / src.name
    try:
        os.replace(src, dest)
        return dest
    except OSError:
        pass  # another filesystem: copy beside the destination, then rename
    with atomic_writer(dest, fsync=False, mode=0o644) as handle, src.open("rb") as inp:
        shutil.copyfileobj(inp, handle, CHUNK_BYTES)
    return dest


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path}: no such bundle") from exc
    except IsADirectoryError as exc:
        raise BundleError(f"{path}: is a directory, not a bundle") from exc
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the bundle: {exc.strerror or exc}") from exc
    except _ZIP_ERRORS as exc:
        raise BundleError(f"{path}: not a pipper bundle (not a zip archive: {exc})") from exc


def _copy_limited(
    bundle: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: IO[bytes], limit: int
) -> None:
    """Copy an entry, refusing once more than ``limit`` real bytes came out of it."""
    copied = 0
    try:
        src = zf.open(info)
    except _ZIP_ERRORS as exc:
        raise BundleError(f"{bundle}: {info.filename} is corrupt: {exc}") from exc
    with src:
        while True:
            try:
                chunk = src.read(CHUNK_BYTES)
            except _ZIP_ERRORS as exc:
                raise BundleError(f"{bundle}: {info.filename} is corrupt: {exc}") from exc
            if not chunk:
                return
            copied += len(chunk)
            if copied > limit:
                raise BundleError(f"{bundle}: {info.filename} holds more bytes than it declares")
            out.write(chunk)


def _check_entry(path: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename
    if (
        ".." in name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or re.match(r"^[A-Za-z]:", name)
    ):
        raise BundleError(f"{path}: entry {name!r} has an unsafe path")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise BundleError(f"{path}: entry {name!r} is a symbolic link")
    if info.flag_bits & 0x1:
        raise BundleError(f"{path}: entry {name!r} is encrypted")


def _check_size(path: Path, info: zipfile.ZipInfo, limit: int) -> None:
    name = info.filename
    if info.file_size > limit:
        raise BundleError(
            f"{path}: entry {name!r} declares {info.file_size} bytes, over the {limit} allowed"
        )
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise BundleError(f"{path}: stored entry {name!r} has inconsistent sizes")
    elif info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        raise BundleError(
            f"{path}: entry {name!r} inflates more than {MAX_COMPRESSION_RATIO} times (zip bomb)"
        )


def _read_meta(path: Path, zf: zipfile.ZipFile) -> dict[str, Any]:
    try:
        with zf.open(META_ENTRY) as src:
            raw = src.read(MAX_META_BYTES + 1)
    except _ZIP_ERRORS as exc:
        raise BundleError(f"{path}: {META_ENTRY} is corrupt: {exc}") from exc
    if len(raw) > MAX_META_BYTES:
        raise BundleError(f"{path}: {META_ENTRY} is larger than {MAX_META_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(f"{path}: {META_ENTRY} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: {META_ENTRY} is not a JSON object")
    return data


def _text_field(path: Path, data: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        what = "is missing" if value is None else "is not a non-empty string"
        raise BundleError(f"{path}: {META_ENTRY} field {key!r} {what}")
    return value


def _parse_version(path: Path, version: str) -> Version:
    try:
        if version != version.strip():
            raise InvalidVersion(version)
        return Version(version)
    except InvalidVersion as exc:
        raise BundleError(
            f"{path}: {META_ENTRY} version {version!r} is not a valid version"
        ) from exc


def _validate(
    path: Path, zf: zipfile.ZipFile, expect_name: str | None, expect_version: str | None
) -> BundleMeta:
    infos = zf.infolist()
    for info in infos:
        _check_entry(path, info)
    names = [info.filename for info in infos]
    for required in (META_ENTRY, WHEEL_ENTRY):
        if required not in names:
            raise BundleError(f"{path}: not a pipper bundle (no {required} entry)")
    if len(names) != 2:
        extra = sorted({n for n in names if n not in (META_ENTRY, WHEEL_ENTRY)})
        detail = ", ".join(repr(n) for n in extra) if extra else "duplicate entries"
        raise BundleError(f"{path}: unexpected entries in the bundle: {detail}")
    _check_size(path, zf.getinfo(META_ENTRY), MAX_META_BYTES)
    _check_size(path, zf.getinfo(WHEEL_ENTRY), MAX_WHEEL_BYTES)

    data = _read_meta(path, zf)
    name = _text_field(path, data, "name", required=True)
    version = _text_field(path, data, "version", required=True)
    wheel_name = _text_field(path, data, "wheel_name", required=True)
    if not NAME_PATTERN.fullmatch(name):
        raise BundleError(f"{path}: {META_ENTRY} name {name!r} is not a valid distribution name")
    parsed_version = _parse_version(path, version)
    if any(bad in wheel_name for bad in ("/", "\\", "..", "\x00")):
        raise BundleError(f"{path}: wheel_name {wheel_name!r} is not a plain file name")
    try:
        wheel_dist, wheel_version, _, _ = parse_wheel_filename(wheel_name)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        raise BundleError(f"{path}: wheel_name {wheel_name!r} is not a wheel file name") from exc
    if normalize_name(wheel_dist) != normalize_name(name) or wheel_version != parsed_version:
        raise BundleError(
            f"{path}: wheel_name {wheel_name!r} does not match the bundle's {name} {version}"
        )
    if expect_name is not None or expect_version is not None:
        same_name = expect_name is None or normalize_name(expect_name) == normalize_name(name)
        same_version = expect_version is None or _same_version(expect_version, parsed_version)
        if not (same_name and same_version):
            raise BundleError(
                f"{path}: bundle says {name} {version} but its key says "
                f"{expect_name or name} {expect_version or version}"
            )

    from pipper.requirements import declared_of_meta

    declared = declared_of_meta(data, f"{path}: {META_ENTRY}")
    return BundleMeta(
        name=name,
        version=version,
        safe_version=_text_field(path, data, "safe_version", required=False),
        wheel_name=wheel_name,
        timestamp=_text_field(path, data, "timestamp", required=False),
        dependencies=declared.dependencies,
        data=types.MappingProxyType(data),
        requires_dist=declared.requires_dist,
        pypi=declared.pypi,
    )


def _same_version(expected: str, actual: Version) -> bool:
    try:
        return Version(expected) == actual
    except InvalidVersion:
        return expected == str(actual)
