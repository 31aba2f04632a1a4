"""Placing a run's bundles in an output folder (``download -d``), by hard link where possible."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipper.bundle import extract_wheel
from pipper.fsutil import atomic_link_or_copy
from pipper.models import Package

__all__ = ["export"]


def export(packages: Mapping[str, Package], directory: Path, *, extract: bool = False) -> int:
    """Place every bundle (and with ``extract`` its wheel) in ``directory``; returns links made."""
    directory.mkdir(parents=True, exist_ok=True)
    links = 0
    for package in packages.values():
        if package.path is None:
            continue
        how = atomic_link_or_copy(package.path, directory / package.filename)
        links += how == "link"
        if extract:
            extract_wheel(package.path, directory)
    return links
