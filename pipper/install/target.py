"""Tidying a ``--target`` folder after pip installed new versions into it.

pip replaces a target's top-level folders that the new wheel also has, but keeps the old
version's ``.dist-info`` (it has another name) and any file only the old version had; two
versions of one package would then seem installed. uv replaces them itself.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from packaging.version import InvalidVersion, Version

from pipper.versions import normalize_name

__all__ = ["prune_target"]


def prune_target(target: Path, installed: Mapping[str, str]) -> None:
    """Remove what older versions of just-installed packages (``{project: version}``) left in
    ``target``; files the current version's RECORD lists are kept whoever listed them first."""
    root = Path(os.path.abspath(target))
    by_project: dict[str, list[tuple[Path, importlib.metadata.PathDistribution]]] = {}
    for info in sorted(root.glob("*.dist-info")):
        dist = importlib.metadata.PathDistribution(info)
        name = dist.metadata["Name"]
        if name and normalize_name(name) in installed:
            by_project.setdefault(normalize_name(name), []).append((info, dist))
    for project, dists in by_project.items():
        wanted = Version(installed[project])
        current = [d for _, d in dists if _version_is(d.version, wanted)]
        if not current:
            continue
        keep = {_file_of(current[0], f) for f in current[0].files or []}
        for info, dist in dists:
            if not _version_is(dist.version, wanted):
                _remove_distribution(info, dist, root, keep)


def _file_of(
    dist: importlib.metadata.PathDistribution, entry: importlib.metadata.PackagePath
) -> Path:
    return Path(os.path.abspath(str(dist.locate_file(entry))))


def _version_is(text: str, wanted: Version) -> bool:
    try:
        return Version(text) == wanted
    except InvalidVersion:
        return False


def _remove_distribution(
    info: Path, dist: importlib.metadata.PathDistribution, root: Path, keep: set[Path]
) -> None:
    """Delete the files ``dist``'s RECORD lists (inside ``root``, not in ``keep``) and its
    ``.dist-info``, then the folders that left empty."""
    folders: set[Path] = set()
    for entry in dist.files or []:
        path = _file_of(dist, entry)
        if path in keep or path == root or not path.is_relative_to(root):
            continue
        if path.is_file() or path.is_symlink():
            path.unlink()
            folders.add(path.parent)
    shutil.rmtree(info, ignore_errors=True)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
