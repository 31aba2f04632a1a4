"""The public half of a lock, and the PEP 751 ``pylock.toml`` of the whole closure.

A lock's ``public`` list names every public wheel pip chose: name, version, file name, sha256,
the URL it came from and the index (both without credentials). It is a new list beside
``packages``, so a lock written before it still reads (no public packages) and an older pipper
reading a newer lock ignores it. A ``--lock`` run takes each wheel from the cache by its sha256,
or fetches it from its URL in pip's hash-checking mode and checks the sha256 again itself: a
wheel that changed on the index since the lock was written is refused.

``pylock.toml`` (``pipper lock --format pylock``) is the same closure in the standard format, for
installers that read it (``uv pip install -r pylock.toml``): public wheels by URL, private wheels
by a path to a folder beside it, each with its sha256.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipper.cache.blobs import DIGEST
from pipper.errors import UsageError
from pipper.fsutil import atomic_write_bytes
from pipper.keys import redact_url
from pipper.specs import validate_name
from pipper.versions import normalize_name
from pipper.wheels import wheel_name_and_version

if TYPE_CHECKING:
    from pipper.cache import Cache
    from pipper.models import Package, PublicPackage
    from pipper.public import PublicConfig

__all__ = [
    "PYLOCK_FILE",
    "PYLOCK_WHEELS",
    "LockedPublic",
    "fetch_locked_public",
    "parse_public",
    "write_pylock",
]

PYLOCK_FILE = "pylock.toml"
PYLOCK_WHEELS = "pylock-wheels"
"""The folder beside ``pylock.toml`` that holds the private wheels it names by path."""


@dataclass(frozen=True)
class LockedPublic:
    """One public wheel of a lock; ``dependencies`` and ``required_by`` as the run found them."""

    name: str
    version: str
    filename: str
    sha256: str
    url: str
    index_url: str | None = None
    dependencies: tuple[str, ...] = ()
    required_by: tuple[str, ...] = ()

    @property
    def project(self) -> str:
        return normalize_name(self.name)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @classmethod
    def of(cls, package: PublicPackage, index_url: str | None) -> LockedPublic:
        return cls(
            name=package.name,
            version=package.version,
            filename=package.filename,
            sha256=package.sha256,
            url=redact_url(package.url),
            index_url=index_url,
            dependencies=tuple(package.dependencies),
            required_by=tuple(r for r in package.required_by if r is not None),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "filename": self.filename,
            "sha256": self.sha256,
            "url": self.url,
            "index_url": self.index_url,
            "dependencies": sorted(self.dependencies),
            "required_by": sorted(self.required_by),
        }


def parse_public(path: Path, raw: object) -> tuple[LockedPublic, ...]:
    """The ``public`` list of a lock file (absent: none); every problem names the file."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise UsageError(f"{path}: 'public' must be a list")
    found = [_entry(path, index, item) for index, item in enumerate(raw)]
    seen: set[str] = set()
    for entry in found:
        if entry.project in seen:
            raise UsageError(f"{path}: the public package {entry.name} is locked twice")
        seen.add(entry.project)
    return tuple(sorted(found, key=lambda e: e.project))


def _entry(path: Path, index: int, data: object) -> LockedPublic:
    where = f"public[{index}]"
    if not isinstance(data, dict):
        raise UsageError(f"{path}: {where} must be a mapping")

    def text(key: str, *, optional: bool = False) -> Any:
        value = data.get(key)
        if optional and value is None:
            return None
        if not isinstance(value, str) or not value:
            raise UsageError(f"{path}: {where}: '{key}' must be a non-empty string")
        return value

    def names(key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{path}: {where}: '{key}' must be a list of strings")
        return tuple(value)

    name = text("name")
    try:
        validate_name(name)
    except UsageError as exc:
        raise UsageError(f"{path}: {where}: {exc.message}") from None
    where = f"{where} ({name})"
    version, filename, sha256, url = text("version"), text("filename"), text("sha256"), text("url")
    spelled = wheel_name_and_version(filename)
    if spelled is None or normalize_name(spelled[0]) != normalize_name(name):
        raise UsageError(f"{path}: {where}: {filename!r} is not a wheel file name of {name}")
    if not DIGEST.fullmatch(sha256):
        raise UsageError(f"{path}: {where}: 'sha256' must be 64 lowercase hex digits")
    if not re.match(r"(https?|file)://", url, re.IGNORECASE) or redact_url(url) != url:
        raise UsageError(f"{path}: {where}: 'url' must be an http(s) or file URL without secrets")
    return LockedPublic(
        name=name,
        version=version,
        filename=filename,
        sha256=sha256,
        url=url,
        index_url=text("index_url", optional=True),
        dependencies=names("dependencies"),
        required_by=names("required_by"),
    )


async def fetch_locked_public(
    cache: Cache, config: PublicConfig, locked: Sequence[LockedPublic], *, offline: bool
) -> dict[str, PublicPackage]:
    """Exactly the locked public wheels, each checked against its locked sha256."""
    from pipper.wheels import fetch_public

    return await fetch_public(
        cache,
        config,
        [(p.name, p.version, p.filename, p.url, p.sha256) for p in locked],
        offline=offline,
        required_by={p.project: p.required_by for p in locked},
        dependencies={p.project: p.dependencies for p in locked},
    )


# -- pylock.toml ---------------------------------------------------------------------------------


def _toml(value: object) -> str:
    """A TOML value: strings as basic strings (JSON's escapes are TOML's), inline tables."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}")


def write_pylock(
    path: Path,
    private: Mapping[str, Package],
    public: Iterable[LockedPublic],
    *,
    requires_python: str | None = None,
) -> Path:
    """Write ``path`` (a ``pylock.toml``) and the private wheels it names into the folder
    ``PYLOCK_WHEELS`` beside it; ``private`` must hold its bundles (a run's result)."""
    from pipper.bundle import extract_wheel
    from pipper.cache import sha256_file

    folder = path.parent / PYLOCK_WHEELS
    entries: list[tuple[str, dict[str, object]]] = []
    for package in private.values():
        if package.path is None:
            raise UsageError(f"{package.candidate} has no bundle in the cache to take a wheel from")
        wheel = extract_wheel(package.path, folder)
        entries.append(
            (
                package.project,
                {
                    "name": package.name,
                    "version": package.version,
                    "wheels": [
                        {
                            "name": wheel.name,
                            "path": f"{PYLOCK_WHEELS}/{wheel.name}",
                            "hashes": {"sha256": sha256_file(wheel)},
                        }
                    ],
                },
            )
        )
    for locked in public:
        entry: dict[str, object] = {"name": locked.name, "version": locked.version}
        if locked.index_url:
            entry["index"] = locked.index_url
        entry["wheels"] = [
            {"name": locked.filename, "url": locked.url, "hashes": {"sha256": locked.sha256}}
        ]
        entries.append((locked.project, entry))
    lines = ['lock-version = "1.0"', 'created-by = "pipper"']
    if requires_python:
        lines.append(f"requires-python = {_toml(requires_python)}")
    for _, entry in sorted(entries, key=lambda item: item[0]):
        lines += ["", "[[packages]]"]
        lines += [f"{key} = {_toml(value)}" for key, value in entry.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode(), mode=0o644)
    return path
