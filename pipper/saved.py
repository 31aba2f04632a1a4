"""The saved repositories file, ``~/.pipper/repositories.json``, in the original's format.

Fields this module does not know are kept, because another tool (or an older pipper) may share
the file; a file that cannot be read is reported and never written over.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipper.errors import ConfigError, NotFoundError, UsageError
from pipper.fsutil import atomic_write_bytes, read_small_file
from pipper.jsonio import JsonError, parse_json
from pipper.locations import (
    DEFAULT_PREFIX,
    check_endpoint,
    normalize_root_prefix,
    parse_location,
    validate_repository_name,
)
from pipper.settings import Settings

__all__ = ["REPOSITORIES_FILE", "RepositoryStore", "SavedRepository", "default_store"]

log = logging.getLogger(__name__)

REPOSITORIES_FILE = "repositories.json"
MAX_REPOSITORIES_BYTES = 10 * 1024 * 1024

_KNOWN_FIELDS = (
    "bucket",
    "profile",
    "root_prefix",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "endpoint_url",
    "region",
)
#: The original always writes these six, so a file we write still looks like one it wrote.
_ALWAYS_WRITTEN = _KNOWN_FIELDS[:6]


@dataclass
class SavedRepository:
    """One entry of the repositories file. ``bucket`` holds a local path or ``file://`` URL for a
    local repository. ``extra`` carries fields written by other tools so they survive a save."""

    bucket: str | None = None
    root_prefix: str | None = DEFAULT_PREFIX
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    region: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        for key in _KNOWN_FIELDS:
            value = getattr(self, key)
            if value is not None or key in _ALWAYS_WRITTEN:
                data[key] = value
            else:
                data.pop(key, None)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> SavedRepository:
        values: dict[str, str | None] = {}
        for key in _KNOWN_FIELDS:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{where}: field {key!r} must be a string or null")
            values[key] = value
        extra = {k: v for k, v in data.items() if k not in _KNOWN_FIELDS}
        return cls(extra=extra, **values)


def _normalize_saved(saved: SavedRepository, name: str) -> SavedRepository:
    """Check a repository before it is written, and pin a relative local path to an absolute one
    so the saved repository means the same directory from any working directory."""
    what = f"repository {name!r}"
    saved = replace(saved, extra=dict(saved.extra))
    if saved.bucket is not None:
        bucket, local = parse_location(saved.bucket, f"{what}: bucket")
        saved.bucket = str(local) if local is not None else bucket
    if saved.root_prefix is not None:
        saved.root_prefix = normalize_root_prefix(saved.root_prefix, f"{what}: root prefix")
    if saved.endpoint_url is not None:
        saved.endpoint_url = check_endpoint(saved.endpoint_url, f"{what}: endpoint URL")
    if saved.access_key_id and not saved.secret_access_key:
        raise ConfigError(f"{what}: an access key id needs its secret access key")
    return saved


class RepositoryStore:
    """The saved repositories file: read lazily, changed in memory, written only by ``save``.

    A file that cannot be read is reported and then never written by this store, so a typo made
    by hand is not silently replaced by an empty configuration.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else Settings().home / REPOSITORIES_FILE
        self._doc: dict[str, Any] | None = None
        self._error: ConfigError | None = None
        self._warned_default = False

    def load(self) -> None:
        """(Re)read the file; a missing file is an empty store."""
        self._doc = None
        self._error = None
        if not self.path.exists():
            self._doc = {"repositories": {}, "default": None}
            return
        try:
            raw = read_small_file(self.path, MAX_REPOSITORIES_BYTES, "repositories file")
        except UsageError as exc:
            self._error = ConfigError(exc.message)
            raise self._error from None
        try:
            doc = parse_json(raw)
            self._check_shape(doc)
        except ValueError as exc:
            reason = exc.reason if isinstance(exc, JsonError) else str(exc)
            self._error = ConfigError(
                f"{self.path} is not a valid repositories file ({reason}); fix or remove it"
            )
            raise self._error from None
        self._doc = doc

    @staticmethod
    def _check_shape(doc: Any) -> None:
        if not isinstance(doc, dict):
            raise ValueError("the top level must be an object")
        repos = doc.setdefault("repositories", {})
        if not isinstance(repos, dict):
            raise ValueError('"repositories" must be an object')
        for name, entry in repos.items():
            if not isinstance(entry, dict):
                raise ValueError(f"repository {name!r} must be an object")
            for key in _KNOWN_FIELDS:
                value = entry.get(key)
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"field {key!r} of repository {name!r} must be a string")
        default = doc.setdefault("default", None)
        if default is not None and not isinstance(default, str):
            raise ValueError('"default" must be a repository name or null')

    def _data(self) -> dict[str, Any]:
        if self._error is not None:
            raise self._error
        if self._doc is None:
            self.load()
        assert self._doc is not None
        return self._doc

    def _repos(self) -> dict[str, Any]:
        repos: dict[str, Any] = self._data()["repositories"]
        return repos

    def names(self) -> list[str]:
        return sorted(self._repos())

    def exists(self, name: str) -> bool:
        return name in self._repos()

    def get(self, name: str) -> SavedRepository:
        entry = self._repos().get(name)
        if entry is None:
            raise NotFoundError(f"no saved repository named {name!r} in {self.path}")
        return SavedRepository.from_json(entry, f"{self.path}: repository {name!r}")

    @property
    def default(self) -> str | None:
        """The default repository's name; a default naming a missing repository counts as none."""
        name: str | None = self._data().get("default")
        if name is not None and name not in self._repos():
            if not self._warned_default:
                self._warned_default = True
                log.warning(
                    "%s names %r as the default repository, which is not saved", self.path, name
                )
            return None
        return name

    @default.setter
    def default(self, name: str | None) -> None:
        if name is not None and not self.exists(name):
            raise NotFoundError(f"no saved repository named {name!r} in {self.path}")
        self._data()["default"] = name

    def add(self, name: str, saved: SavedRepository, *, default: bool = False) -> None:
        validate_repository_name(name)
        if self.exists(name):
            raise ConfigError(
                f"a repository named {name!r} already exists in {self.path}; modify or remove it"
            )
        self._repos()[name] = _normalize_saved(saved, name).to_json()
        if default:
            self.default = name

    def modify(self, name: str, *, default: bool = False, **changes: str | None) -> None:
        """Change the given fields (``None`` clears one) and keep every other field as it was."""
        unknown = set(changes) - set(_KNOWN_FIELDS)
        if unknown:
            raise TypeError(f"unknown repository fields: {', '.join(sorted(unknown))}")
        saved = self.get(name)
        for key, value in changes.items():
            setattr(saved, key, value)
        self._repos()[name] = _normalize_saved(saved, name).to_json()
        if default:
            self.default = name

    def remove(self, name: str) -> None:
        if not self.exists(name):
            raise NotFoundError(f"no saved repository named {name!r} in {self.path}")
        del self._repos()[name]
        if self._data().get("default") == name:
            self._data()["default"] = None

    def save(self) -> None:
        if self._error is not None:
            raise ConfigError(f"not saving over {self.path}: it could not be read ({self._error})")
        doc = self._data()
        # A repositories file kept elsewhere (a dotfiles checkout) is often a symlink: write
        # through it to its target, atomically there, instead of replacing the link by a file.
        try:
            target = self.path.resolve()
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop, before Python 3.13
            raise ConfigError(
                f"cannot save {self.path}: it is a symlink that leads nowhere"
            ) from None
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(target, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)


def default_store(settings: Settings) -> RepositoryStore:
    return RepositoryStore(settings.home / REPOSITORIES_FILE)
