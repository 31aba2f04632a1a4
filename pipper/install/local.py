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
from pipper.keys import BUNDLE_SUFFIX, parse_bundle_filename, safe_version
from pipper.models import Candidate
from pipper.specs import PackageId

__all__ = ["LocalBundles"]

log = logging.getLogger(__name__)


class LocalBundles:
    """``.pipper`` files on disk as a package source: flat folders and single files.

    A folder is what ``pipper download -d`` writes (``<name>-<safe_version>.pipper``); a file
    named on the command line is read for its name and version whatever it is called, and wins
    over a folder's file of the same version.
    """

    def __init__(self) -> None:
        self.folders: list[Path] = []
        self._versions: dict[str, dict[Version, Candidate]] = {}
        self._paths: dict[Candidate, Path] = {}

    def add_file(self, path: Path) -> PackageId:
        """Add one bundle and return the id that asks for exactly it."""
        meta = read_bundle(path)
        candidate = self._candidate(meta.name, meta.version, path)
        versions = self._versions.setdefault(candidate.project, {})
        old = versions.get(candidate.parsed)
        if old is not None and self._paths[old] != path:
            raise UsageError(
                f"{path} and {self._paths[old]} are both {candidate}; name only one of them"
            )
        versions[candidate.parsed] = candidate
        self._paths[candidate] = path
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
            candidate = self._candidate(*parsed, path)
            self._versions.setdefault(candidate.project, {}).setdefault(candidate.parsed, candidate)
            self._paths.setdefault(candidate, path)

    @staticmethod
    def _candidate(name: str, version: str, path: Path) -> Candidate:
        return Candidate(
            name=name,
            version=version,
            key=f"{name}/{safe_version(version)}{BUNDLE_SUFFIX}",
            size=path.stat().st_size,
            etag="",
        )

    def has(self, project: str) -> bool:
        return project in self._versions

    def versions(self, project: str) -> list[Candidate]:
        return sorted(self._versions.get(project, {}).values(), key=lambda c: c.parsed)

    def path(self, candidate: Candidate) -> Path:
        return self._paths[candidate]

    @property
    def root(self) -> Path:
        return (self.folders or [p.parent for p in self._paths.values()] or [Path.cwd()])[0]

    def describe(self) -> str:
        folders = sorted(
            {str(f) for f in self.folders} | {str(p.parent) for p in self._paths.values()}
        )
        return ", ".join(folders) or "the bundles given"
