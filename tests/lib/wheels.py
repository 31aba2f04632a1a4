"""A wheel factory for tests and benchmarks.

Building real projects with setuptools takes a second or more per wheel; these helpers write a
minimal, valid, pip-installable pure-Python wheel directly with ``zipfile`` in milliseconds, so a
test can make dozens of packages (or a few big ones) without a build backend.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipper.bundle import write_bundle
from pipper.demo import escape_name, make_wheel

__all__ = ["escape_name", "make_bundle", "make_vendor", "make_wheel", "write_pyproject_project"]


def make_bundle(
    out_dir: Path,
    name: str,
    version: str,
    *,
    dependencies: Sequence[str] = (),
    requires: Sequence[str] = (),
    payload_size: int = 0,
    extra_meta: Mapping[str, Any] | None = None,
    tag: str = "py3-none-any",
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
        wheel = make_wheel(
            Path(tmp), name, version, requires=requires, payload_size=payload_size, tag=tag
        )
        return write_bundle(wheel, out_dir, extra)


def make_vendor(folder: Path) -> Path:
    """A folder of bundles as ``pipper download`` leaves one: ``x 1.0.0`` needing ``y``, and
    two versions of ``y``."""
    make_bundle(folder, "x", "1.0.0", dependencies=["y"], requires=["y"])
    make_bundle(folder, "y", "1.0.0")
    make_bundle(folder, "y", "2.0.0")
    return folder


def write_pyproject_project(
    root: Path, version: str = "0.2.0", *, dependencies: Sequence[str] = ()
) -> Path:
    """A buildable setuptools project ``tiny-proj`` (module ``tiny_proj``) under ``root``."""
    (root / "src" / "tiny_proj").mkdir(parents=True)
    (root / "src" / "tiny_proj" / "__init__.py").write_text(f'__version__ = "{version}"\n')
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "tiny-proj"\nversion = "{version}"\n'
        f"dependencies = {json.dumps(list(dependencies))}\n"
    )
    return root
