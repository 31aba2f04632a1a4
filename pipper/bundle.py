"""Write a ``.pipper`` bundle, and open one without trusting it.

A bundle is a zip of exactly two stored entries, ``package.whl`` and ``package.meta`` (JSON), as
the original pipper writes them. Bundles come from a shared bucket that anyone with write access
can fill, so reading one assumes it may be hostile: every entry name, size, compression ratio and
meta field is checked before a byte is inflated, and the wheel is only ever written under the
directory the caller names. Building the wheel a bundle holds is :mod:`pipper.build`'s job.
"""

from __future__ import annotations

import json
import logging
import re
import stat
import types
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pipper.errors import BundleError, NotFoundError, UsageError
from pipper.fsutil import atomic_writer, replace_into, temp_file
from pipper.jsonio import JsonError, parse_json
from pipper.keys import safe_version, wheel_bundle_filename
from pipper.versions import NAME_PATTERN, normalize_name, parse_version, same_version

log = logging.getLogger(__name__)

WHEEL_ENTRY = "package.whl"
META_ENTRY = "package.meta"
MAX_WHEEL_BYTES = 8 * 1024**3
MAX_META_BYTES = 1024 * 1024
MAX_WHEEL_NAME = 255  # the longest file name most file systems allow
MAX_COMPRESSION_RATIO = 200
S3_METADATA_LIMIT = 2000
CHUNK_BYTES = 1024 * 1024

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
    dest = out_dir / wheel_bundle_filename(name, version, wheel.name)
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
    whole: bool = False,
    file: IO[bytes] | None = None,
) -> BundleMeta:
    """Validate a bundle without extracting anything and return its meta.

    ``expect_name``/``expect_version`` are what the bundle's key in the store promised; a
    bundle uploaded under another package's key is refused rather than installed. ``whole``
    also reads every entry to its end (streamed), so each entry's CRC-32 is checked: for an
    object without ``sha256`` metadata (everything the original wrote) that is the only
    check that a transfer damaged no byte, and it runs before a download is cached. ``file``:
    the bundle already open (``path`` only names it), so a caller checks the very file it then
    uses.
    """
    path = Path(path)
    with _open_zip(path, file) as zf:
        meta = _validate(path, zf, expect_name, expect_version)
        if whole:
            _check_crcs(path, zf)
        return meta


def is_whole(handle: IO[bytes]) -> bool:
    """True when ``handle`` holds a zip whose every entry's bytes match their CRC-32
    (``cache verify``: a blob that hashes to its name may still be a damaged transfer that an
    earlier version cached)."""
    try:
        with zipfile.ZipFile(handle) as zf:
            _check_crcs(Path("bundle"), zf)
    except (BundleError, *_ZIP_ERRORS):
        return False
    return True


def _check_crcs(path: Path, zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        _copy_limited(path, zf, info, None, MAX_WHEEL_BYTES)


def extract_wheel(bundle: Path, dest_dir: Path) -> Path:
    """Validate ``bundle``; write its wheel atomically to ``dest_dir / wheel_name``."""
    bundle, dest_dir = Path(bundle), Path(dest_dir)
    meta = read_bundle(bundle)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / meta.wheel_name
    with temp_file(dest_dir, suffix=".whl") as (tmp, handle):
        copy_wheel(bundle, handle)
        replace_into(tmp, dest, fsync=False, handle=handle, mode=0o644)
    return dest


def copy_wheel(bundle: Path, out: IO[bytes]) -> None:
    """Write the wheel of a bundle ``read_bundle`` accepted to ``out`` (a new, empty file).

    Real bytes are counted against the declared size, so a lying header cannot fill the disk;
    zipfile checks the CRC-32 at the last byte, and the copy must open as a zip.
    """
    with _open_zip(bundle) as zf:
        info = zf.getinfo(WHEEL_ENTRY) if WHEEL_ENTRY in zf.NameToInfo else None
        if info is None:
            raise BundleError(f"{bundle}: not a pipper bundle (no {WHEEL_ENTRY} entry)")
        _copy_limited(bundle, zf, info, out, min(info.file_size, MAX_WHEEL_BYTES))
    out.flush()
    out.seek(0)
    if not zipfile.is_zipfile(out):
        raise BundleError(f"{bundle}: {WHEEL_ENTRY} is not a wheel (not a zip archive)")


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


def _open_zip(path: Path, file: IO[bytes] | None = None) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file if file is not None else path)
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path}: no such bundle") from exc
    except IsADirectoryError as exc:
        raise BundleError(f"{path}: is a directory, not a bundle") from exc
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the bundle: {exc.strerror or exc}") from exc
    except _ZIP_ERRORS as exc:
        raise BundleError(f"{path}: not a pipper bundle (not a zip archive: {exc})") from exc


def _copy_limited(
    bundle: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: IO[bytes] | None, limit: int
) -> None:
    """Copy an entry (to nowhere without ``out``), refusing once more than ``limit`` real bytes
    came out of it; zipfile checks the entry's CRC-32 when its last byte is read."""
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
            if out is not None:
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
        data = parse_json(raw)
    except JsonError as exc:
        raise BundleError(f"{path}: {META_ENTRY} is not valid JSON ({exc.reason})") from None
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


def _check_wheel_name(path: Path, wheel_name: str) -> None:
    """``wheel_name`` becomes a file name in ``-d`` and in pip's output: a plain, printable name."""
    if (
        len(wheel_name) > MAX_WHEEL_NAME
        or not wheel_name.isprintable()
        or wheel_name.startswith(".")
        or any(bad in wheel_name for bad in ("/", "\\", ".."))
    ):
        raise BundleError(f"{path}: wheel_name {wheel_name[:100]!r} is not a plain file name")


def _parse_version(path: Path, version: str) -> Version:
    try:
        if version != version.strip():
            raise InvalidVersion(version)
        return parse_version(version)
    except InvalidVersion as exc:
        raise BundleError(
            f"{path}: {META_ENTRY} version {version[:100]!r} is not a valid version"
        ) from exc


def _validate(
    path: Path, zf: zipfile.ZipFile, expect_name: str | None, expect_version: str | None
) -> BundleMeta:
    for info in zf.infolist():
        _check_entry(path, info)
    names = [info.filename for info in zf.infolist()]
    for required in (META_ENTRY, WHEEL_ENTRY):
        if required not in names:
            raise BundleError(f"{path}: not a pipper bundle (no {required} entry)")
    if len(names) != 2:
        extra = sorted({n for n in names if n not in (META_ENTRY, WHEEL_ENTRY)})
        detail = ", ".join(repr(n) for n in extra) if extra else "duplicate entries"
        raise BundleError(f"{path}: unexpected entries in the bundle: {detail}")
    _check_size(path, zf.getinfo(META_ENTRY), MAX_META_BYTES)
    _check_size(path, zf.getinfo(WHEEL_ENTRY), MAX_WHEEL_BYTES)
    return meta_from(path, _read_meta(path, zf), expect_name, expect_version)


def meta_from(
    path: Path, data: dict[str, Any], expect_name: str | None, expect_version: str | None
) -> BundleMeta:
    """``package.meta`` checked as ``read_bundle`` checks it (also a sealed blob's, unzipped)."""
    name = _text_field(path, data, "name", required=True)
    version = _text_field(path, data, "version", required=True)
    wheel_name = _text_field(path, data, "wheel_name", required=True)
    if not NAME_PATTERN.fullmatch(name):
        raise BundleError(f"{path}: {META_ENTRY} name {name!r} is not a valid distribution name")
    parsed_version = _parse_version(path, version)
    _check_wheel_name(path, wheel_name)
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
        same_ver = expect_version is None or same_version(expect_version, parsed_version)
        if not (same_name and same_ver):
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
