"""A wheel factory for tests and benchmarks.

Building real projects with setuptools takes a second or more per wheel; these helpers write a
minimal, valid, pip-installable pure-Python wheel directly with ``zipfile`` in milliseconds, so a
test can make dozens of packages (or a few big ones) without a build backend.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipper.bundle import write_bundle
from pipper.demo import escape_name, make_wheel

__all__ = ["escape_name", "make_bundle", "make_wheel"]


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
