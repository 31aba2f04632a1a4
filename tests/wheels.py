"""A wheel factory for tests and benchmarks.

Building real projects with setuptools takes a second or more per wheel; these helpers write a
minimal, valid, pip-installable pure-Python wheel directly with ``zipfile`` in milliseconds, so a
test can make dozens of packages (or a few big ones) without a build backend.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipper.bundle import write_bundle

_CHUNK = 1024 * 1024
_DATE = (2020, 1, 1, 0, 0, 0)


def escape_name(name: str) -> str:
    """The distribution name as a wheel's file name and dist-info folder spell it."""
    return re.sub(r"[-_.]+", "_", name)


def _record_hash(digest: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _info(arcname: str, compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=_DATE)
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16
    return info


def make_wheel(
    out_dir: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    payload_size: int = 0,
    module: str | None = None,
) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` into ``out_dir`` and return its path.

    The wheel holds ``<module>/__init__.py`` with ``__version__``, and when ``payload_size`` is
    set a ``<module>/payload.bin`` of that many seeded random bytes (incompressible, so a big
    wheel really is big on disk and on the wire; the same name and version give the same bytes).
    """
    escaped = escape_name(name)
    file_version = version.replace("-", "_")
    package = module or escaped
    dist_info = f"{escaped}-{file_version}.dist-info"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{escaped}-{file_version}-py3-none-any.whl"

    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {req}" for req in requires),
    ]
    wheel_file = [
        "Wheel-Version: 1.0",
        "Generator: pipper-tests",
        "Root-Is-Purelib: true",
        "Tag: py3-none-any",
    ]
    texts = {
        f"{package}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist_info}/METADATA": "\n".join(metadata) + "\n\n",
        f"{dist_info}/WHEEL": "\n".join(wheel_file) + "\n",
    }

    records: list[str] = []
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, text in texts.items():
            data = text.encode("utf-8")
            zf.writestr(_info(arcname, zipfile.ZIP_DEFLATED), data)
            records.append(f"{arcname},{_record_hash(hashlib.sha256(data).digest())},{len(data)}")
        if payload_size > 0:
            arcname = f"{package}/payload.bin"
            rng = random.Random(f"{name}=={version}")
            digest = hashlib.sha256()
            left = payload_size
            with zf.open(
                _info(arcname, zipfile.ZIP_STORED), "w", force_zip64=payload_size > 2**31
            ) as out:
                while left > 0:
                    chunk = rng.randbytes(min(left, _CHUNK))
                    digest.update(chunk)
                    out.write(chunk)
                    left -= len(chunk)
            records.append(f"{arcname},{_record_hash(digest.digest())},{payload_size}")
        records.append(f"{dist_info}/RECORD,,")
        zf.writestr(_info(f"{dist_info}/RECORD", zipfile.ZIP_DEFLATED), "\n".join(records) + "\n")
    return path


def make_bundle(
    out_dir: Path,
    name: str,
    version: str,
    *,
    dependencies: Sequence[str] = (),
    requires: Sequence[str] = (),
    payload_size: int = 0,
    extra_meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write a ``.pipper`` bundle of a fresh wheel into ``out_dir`` and return its path.

    ``dependencies`` become the meta's ``dependencies`` (as a project's ``pipper.json`` would
    put them there); ``extra_meta`` is merged over that, so a test can also plant odd values.
    """
    extra: dict[str, Any] = {}
    if dependencies:
        extra["dependencies"] = list(dependencies)
    extra.update(extra_meta or {})
    with tempfile.TemporaryDirectory(prefix="pipper-test-wheel-") as tmp:
        wheel = make_wheel(Path(tmp), name, version, requires=requires, payload_size=payload_size)
        return write_bundle(wheel, out_dir, extra)
