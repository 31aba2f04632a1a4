"""``[tool.pipper]`` in a project's ``pyproject.toml``: the settings a team shares through git.

A project names its repository once, next to its code, instead of every developer and CI job
setting ``PIPPER_BUCKET``::

    [tool.pipper]
    repository = "s3://team-pkgs"     # spelled as for -b: a bucket, s3://bucket, ./dir, file://
    prefix = "pipper"
    endpoint = "http://127.0.0.1:8333"
    region = "eu-west-1"
    installer = "uv"
    concurrency = 64

The file is found the way ruff finds its own table: the closest ``pyproject.toml`` holding a
``[tool.pipper]`` table, from the current directory up. A relative local path is taken from the
file's folder, so the setting means the same directory wherever the command runs. The precedence
(a command-line option, then the environment, then this table, then the saved default
repository) is applied by :mod:`pipper.repositories` and :mod:`pipper.context`; this module only
reads and checks the table.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipper.errors import ConfigError

__all__ = ["KEYS", "ProjectSettings", "find_project", "load_project"]

log = logging.getLogger(__name__)

#: Every key of ``[tool.pipper]`` and what it means (the README's table is written from it).
KEYS: dict[str, str] = {
    "repository": "where packages live, spelled as for -b (bucket, s3://bucket, ./dir, file://)",
    "prefix": "key prefix, like --root-prefix",
    "endpoint": "S3-compatible endpoint, like --endpoint-url",
    "region": "the bucket's region, like --region",
    "installer": "pip or uv, like install --installer",
    "concurrency": "requests in flight at once, like --concurrency",
}
_FILE = "pyproject.toml"


@dataclass(frozen=True)
class ProjectSettings:
    """The checked ``[tool.pipper]`` table; every field is ``None`` when not set (or no file)."""

    path: Path | None = None
    repository: str | None = None
    prefix: str | None = None
    endpoint: str | None = None
    region: str | None = None
    installer: str | None = None
    concurrency: int | None = None

    def where(self, key: str) -> str:
        """How messages and ``pipper config`` name one key of the table."""
        return f"{self.path} [tool.pipper] {key}"


def find_project(start: Path | None = None) -> ProjectSettings:
    """The closest ``pyproject.toml`` with a ``[tool.pipper]`` table above ``start`` (cwd)."""
    folder = (start or Path.cwd()).absolute()
    for candidate in (folder, *folder.parents):
        path = candidate / _FILE
        if path.is_file():
            table = _table(path)
            if table is not None:
                return _checked(path, table)
    return ProjectSettings()


def load_project(path: Path) -> ProjectSettings:
    """The table of one ``pyproject.toml`` (empty settings when it has none)."""
    table = _table(path)
    return _checked(path, table) if table is not None else ProjectSettings()


def _table(path: Path) -> dict[str, object] | None:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}") from None
    tool = data.get("tool")
    table = tool.get("pipper") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.pipper] must be a table")
    return table


def _checked(path: Path, table: dict[str, object]) -> ProjectSettings:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        log.warning(
            "%s [tool.pipper]: unknown key %s (known: %s)",
            path,
            ", ".join(unknown),
            ", ".join(KEYS),
        )
    text: dict[str, str | None] = {}
    for key in ("repository", "prefix", "endpoint", "region", "installer"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{path} [tool.pipper] {key} must be a string")
        text[key] = value.strip() or None if isinstance(value, str) else None
    installer = text["installer"]
    if installer is not None and installer not in ("pip", "uv"):
        raise ConfigError(
            f"{path} [tool.pipper] installer must be 'pip' or 'uv', not {installer!r}"
        )
    concurrency = table.get("concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= 1024
    ):
        raise ConfigError(f"{path} [tool.pipper] concurrency must be a whole number from 1 to 1024")
    repository = text["repository"]
    if repository is not None and (
        repository in (".", "..") or repository.startswith(("./", "../"))
    ):
        repository = str(path.parent.absolute() / repository)
    return ProjectSettings(
        path=path,
        repository=repository,
        prefix=text["prefix"],
        endpoint=text["endpoint"],
        region=text["region"],
        installer=installer,
        concurrency=concurrency,
    )
