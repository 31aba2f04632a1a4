"""Placing a run's bundles in an output folder (``download -d``), by hard link where possible.

The public wheels of the graph go there too, under their own file names (they have no bundle),
so with ``--extract`` the folder holds every wheel of the closure and
``pip install --no-index --find-links DIR APP`` needs no network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pipper.bundle import extract_wheel
from pipper.fsutil import atomic_link_or_copy
from pipper.models import Package, PublicPackage

__all__ = ["export"]


def export(
    packages: Mapping[str, Package],
    directory: Path,
    *,
    extract: bool = False,
    public: Iterable[PublicPackage] = (),
    more: Iterable[Package] = (),
) -> int:
    """Place every bundle (and with ``extract`` its wheel) and every public wheel in
    ``directory``; returns the links made."""
    directory.mkdir(parents=True, exist_ok=True)
    links = 0
    for wheel in public:
        if wheel.path is not None:
            links += atomic_link_or_copy(wheel.path, directory / wheel.filename) == "link"
    for package in [*packages.values(), *more]:
        if package.path is None:
            continue
        how = atomic_link_or_copy(package.path, directory / package.filename)
        links += how == "link"
        if extract:
            extract_wheel(package.path, directory)
    return links
