"""Vendored bundles as a package source: ``install --from DIR`` and ``.pipper`` files.

A folder ``pipper download -d`` filled, or single ``.pipper`` files named on the command line,
answer the resolver for every package they hold any version of; the run goes to the
repository only for what they do not hold (and not at all with ``--from``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from pipper.bundle import read_bundle
from pipper.errors import UsageError
from pipper.keys import (
    BUNDLE_SUFFIX,
    is_pure_wheel,
    local_tag_part,
    parse_bundle_filename,
    wheel_tag_part,
)
from pipper.models import Candidate, WheelObject
from pipper.specs import PackageId
from pipper.versions import normalize_name

__all__ = ["LocalBundles"]

log = logging.getLogger(__name__)


class LocalBundles:
    """``.pipper`` files on disk as a package source: flat folders and single files.

    A folder is what ``pipper download -d`` writes (``<name>-<safe_version>.pipper``, and
    ``<name>-<safe_version>.<wheel tags>.pipper`` for further wheels of a version, which the run
    chooses between as it does in a repository); a file named on the command line is read for
    its name, version and wheel whatever it is called, and wins over a folder's files of the
    same version.
    """

    def __init__(self) -> None:
        self.folders: list[Path] = []
        self._versions: dict[str, dict[Version, list[WheelObject]]] = {}
        self._names: dict[tuple[str, Version], tuple[str, str]] = {}
        self._paths: dict[str, Path] = {}
        self._given: set[tuple[str, Version]] = set()

    def add_file(self, path: Path) -> PackageId:
        """Add one bundle and return the id that asks for exactly it."""
        meta = read_bundle(path)
        project, version = normalize_name(meta.name), Version(meta.version)
        if (project, version) in self._given:
            other = self._paths[self._wheels(project, version)[0].key]
            if other != path:
                raise UsageError(
                    f"{path} and {other} are both {meta.name} {meta.version}; name only one of them"
                )
        self._given.add((project, version))
        part = None if is_pure_wheel(meta.wheel_name) else wheel_tag_part(meta.wheel_name)
        for replaced in self._versions.setdefault(project, {}).get(version, []):
            self._paths.pop(replaced.key, None)
        self._versions[project][version] = []
        self._add(meta.name, meta.version, path, part)
        return PackageId(meta.name, SpecifierSet(f"=={meta.version}"), raw=str(path))

    def add_folder(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UsageError(f"--from {folder}: no such folder")
        self.folders.append(folder)
        for path in sorted(folder.iterdir()):
            if not path.name.endswith(BUNDLE_SUFFIX) or not path.is_file():
                continue
            parsed = parse_bundle_filename(path.name)
            if parsed is None:
                log.warning("skipping %s: not named <name>-<safe_version>.pipper", path)
                continue
            name, version = parsed
            if (normalize_name(name), Version(version)) in self._given:
                continue
            self._add(name, version, path, local_tag_part(path.name))

    def _add(self, name: str, version: str, path: Path, tag_part: str | None) -> None:
        project, parsed = normalize_name(name), Version(version)
        wheels = self._versions.setdefault(project, {}).setdefault(parsed, [])
        key = f"{name}/{path.name}"
        if key in self._paths:
            return
        self._names.setdefault((project, parsed), (name, version))
        self._paths[key] = path
        wheels.append(WheelObject(key=key, size=path.stat().st_size, etag="", tag_part=tag_part))
        # The bundle of unknown tags first: it stands for the version where no wheel is chosen.
        wheels.sort(key=lambda w: (w.tag_part is not None, w.key))

    def _wheels(self, project: str, version: Version) -> list[WheelObject]:
        return self._versions[project][version]

    def has(self, project: str) -> bool:
        return project in self._versions

    def versions(self, project: str) -> list[Candidate]:
        found = []
        for version, wheels in self._versions.get(project, {}).items():
            if not wheels:
                continue
            name, text = self._names[(project, version)]
            first = wheels[0]
            found.append(
                Candidate(
                    name=name,
                    version=text,
                    key=first.key,
                    size=first.size,
                    etag="",
                    tag_part=first.tag_part,
                    wheels=tuple(wheels),
                )
            )
        return sorted(found, key=lambda c: c.parsed)

    def path(self, candidate: Candidate) -> Path:
        return self._paths[candidate.key]

    @property
    def root(self) -> Path:
        return (self.folders or [p.parent for p in self._paths.values()] or [Path.cwd()])[0]

    def describe(self) -> str:
        folders = sorted(
            {str(f) for f in self.folders} | {str(p.parent) for p in self._paths.values()}
        )
        return ", ".join(folders) or "the bundles given"
