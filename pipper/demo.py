"""The demo: a small built-in package graph, so the quickstart needs no bucket and no AWS account.

``pipper demo`` writes a handful of tiny wheels (made here with ``zipfile``, no build backend),
publishes them into the default local repository, then runs the main job on them: the same
resolve-and-download that ``pipper download -i pipper.json -d vendor`` does against S3. The wheel
writer is also what the tests and benchmarks use to make packages in milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

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


def _expand_tag(tag: str) -> list[str]:
    """The ``Tag:`` lines of a compressed tag set (``py2.py3-none-any``: two lines)."""
    python, abi, platform = tag.split("-")
    return [
        f"{p}-{a}-{pl}"
        for p in python.split(".")
        for a in abi.split(".")
        for pl in platform.split(".")
    ]


def make_wheel(
    out_dir: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    payload_size: int = 0,
    module: str | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` into ``out_dir`` and return its path.

    ``tag`` (``cp311-cp311-manylinux_2_17_x86_64``) only names the wheel: pip and uv choose by
    tags, so a test can publish platform wheels without compiling anything.

    The wheel holds ``<module>/__init__.py`` with ``__version__``, and when ``payload_size`` is
    set a ``<module>/payload.bin`` of that many seeded random bytes (incompressible, so a big
    wheel really is big on disk and on the wire; the same name and version give the same bytes).
    """
    escaped = escape_name(name)
    file_version = version.replace("-", "_")
    package = module or escaped
    dist_info = f"{escaped}-{file_version}.dist-info"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{escaped}-{file_version}-{tag}.whl"

    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {req}" for req in requires),
    ]
    wheel_file = [
        "Wheel-Version: 1.0",
        "Generator: pipper-demo",
        f"Root-Is-Purelib: {'true' if tag.endswith('-none-any') else 'false'}",
        *(f"Tag: {one}" for one in _expand_tag(tag)),
    ]
    init = f'__version__ = "{version}"\n'
    if tag != "py3-none-any":
        init += f'__wheel_tag__ = "{tag}"\n'
    texts = {
        f"{package}/__init__.py": init,
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


# name -> version -> pipper dependencies (also the wheel's Requires-Dist names)
DEMO_GRAPH: dict[str, dict[str, list[str]]] = {
    "demo_app": {"1.0.0": ["demo_http>=1.0", "demo_models:1.*"]},
    "demo_http": {"1.0.0": ["demo_utils"], "2.0.0": ["demo_utils:>=2"]},
    "demo_models": {"1.0.0": ["demo_utils"], "1.1.0": ["demo_utils<2"]},
    "demo_utils": {"1.0.0": [], "1.5.0": [], "2.0.0": []},
}


def demo_bundles(out_dir: Path) -> list[Path]:
    """Write the demo graph's bundles into ``out_dir``."""
    from pipper.bundle import write_bundle
    from pipper.specs import parse_package_id

    bundles = []
    for name, versions in DEMO_GRAPH.items():
        for version, deps in versions.items():
            requires = [parse_package_id(d).name for d in deps]
            wheel = make_wheel(out_dir / "wheels", name, version, requires=requires)
            extra = {"dependencies": deps} if deps else None
            bundles.append(
                write_bundle(wheel, out_dir, extra, timestamp="2026-01-01T00:00:00+00:00")
            )
    return bundles
