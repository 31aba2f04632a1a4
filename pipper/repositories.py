"""Where packages live: one ``Repository`` from options, the environment, the project's
``pyproject.toml`` and saved repositories, in that order (see :func:`explain_repository`).

As in the original, ``-b`` replaces only the location: the saved repository in use (the one
named with ``-r`` or ``PIPPER_REPOSITORY``, else the default) still supplies the prefix,
endpoint and profile. Without any configuration the default local repository is used, so a first
run works offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipper.errors import ConfigError
from pipper.locations import (
    DEFAULT_PREFIX,
    check_endpoint,
    normalize_root_prefix,
    parse_location,
    safe_url,
)
from pipper.project import ProjectSettings
from pipper.saved import RepositoryStore, SavedRepository, default_store
from pipper.settings import Settings

__all__ = ["Repository", "Resolved", "explain_repository", "resolve_repository"]


@dataclass(frozen=True)
class Repository:
    """One place packages live: an S3 bucket and prefix, or a local directory and prefix."""

    bucket: str | None
    root_prefix: str = DEFAULT_PREFIX
    endpoint_url: str | None = None
    region: str | None = None
    local_path: Path | None = None
    name: str | None = None
    profile: str | None = None
    is_default_local: bool = False
    #: True when ``name`` is the saved default rather than a repository named with ``-r``: the
    #: original ranks the environment's credentials above the default repository's, not above
    #: those of a repository the user chose.
    from_default: bool = False

    def __post_init__(self) -> None:
        if (self.bucket is None) == (self.local_path is None):
            raise ValueError("a Repository needs exactly one of bucket and local_path")

    @property
    def is_local(self) -> bool:
        return self.bucket is None

    @property
    def id(self) -> str:
        """Identity for cache keys: the same place always gives the same string, with no secrets."""
        if self.local_path is not None:
            return f"{self.local_path.as_uri().rstrip('/')}/{self.root_prefix}"
        base = f"s3://{self.bucket}/{self.root_prefix}"
        if self.endpoint_url:
            return f"{base}?endpoint={safe_url(self.endpoint_url)}"
        return base

    def describe(self) -> str:
        if self.local_path is not None:
            return f"local directory {self.local_path} (prefix {self.root_prefix})"
        text = f"s3://{self.bucket}/{self.root_prefix}"
        if self.endpoint_url:
            text += f" at {safe_url(self.endpoint_url)}"
        return text


@dataclass(frozen=True)
class _Layer:
    """One place settings come from, with how each of its fields is named in messages."""

    values: Mapping[str, str | None]
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Resolved:
    """The repository, and for each of its settings where it came from (``pipper config``)."""

    repository: Repository
    sources: Mapping[str, str]


_FIELDS = ("bucket", "root_prefix", "endpoint_url", "region")


def _saved_layer(saved: SavedRepository, where: str) -> _Layer:
    values = {
        "bucket": saved.bucket,
        "root_prefix": saved.root_prefix,
        "endpoint_url": saved.endpoint_url,
        "region": saved.region,
    }
    names = {"bucket": "bucket", "root_prefix": "root prefix", "endpoint_url": "endpoint URL"}
    return _Layer(values, {f: f"{where}: {names.get(f, f)}" for f in _FIELDS})


def resolve_repository(**options: Any) -> Repository:
    """Decide where packages live: the repository of :func:`explain_repository` (same options)."""
    return explain_repository(**options).repository


def explain_repository(
    *,
    bucket: str | None,
    root_prefix: str | None,
    repository: str | None,
    endpoint_url: str | None,
    region: str | None,
    store: RepositoryStore | None = None,
    env: Mapping[str, str] | None = None,
    project: ProjectSettings | None = None,
) -> Resolved:
    """Decide where packages live, and say where each setting came from.

    Each setting (bucket, prefix, endpoint, region) is taken from the first place that gives
    it: the command-line options, the saved repository ``-r`` names, the ``PIPPER_*`` variables,
    the saved repository ``PIPPER_REPOSITORY`` names, the project's ``[tool.pipper]``, then the
    saved default repository. So, as in the original, ``-b`` replaces only the location and the
    saved repository in use still supplies the prefix, endpoint and profile. With no location
    anywhere the default local repository is used, so a first run works offline.
    """
    settings = Settings(env)
    store = store if store is not None else default_store(settings)
    project = project or ProjectSettings()
    named_by = "-r" if repository else "PIPPER_REPOSITORY" if settings.repository else None
    saved_name = repository or settings.repository or store.default
    saved = store.get(saved_name) if saved_name else None
    from_default = saved is not None and named_by is None
    where = f"repository {saved_name!r} in {store.path}"

    cli = _Layer(
        {
            "bucket": bucket,
            "root_prefix": root_prefix,
            "endpoint_url": endpoint_url,
            "region": region,
        },
        {
            "bucket": "-b/--bucket",
            "root_prefix": "--root-prefix",
            "endpoint_url": "--endpoint-url",
            "region": "--region",
        },
    )
    environment = _Layer(
        {
            "bucket": settings.bucket,
            "root_prefix": settings.root_prefix,
            "endpoint_url": settings.endpoint_url,
            "region": settings.region,
        },
        {
            "bucket": "PIPPER_BUCKET",
            "root_prefix": "PIPPER_ROOT_PREFIX",
            "endpoint_url": "PIPPER_ENDPOINT_URL",
            "region": "PIPPER_REGION",
        },
    )
    in_project = _Layer(
        {
            "bucket": project.repository,
            "root_prefix": project.prefix,
            "endpoint_url": project.endpoint,
            "region": project.region,
        },
        {
            "bucket": project.where("repository"),
            "root_prefix": project.where("prefix"),
            "endpoint_url": project.where("endpoint"),
            "region": project.where("region"),
        },
    )
    layers = [cli]
    if saved is not None and named_by == "-r":
        layers.append(_saved_layer(saved, where))
    layers.append(environment)
    if saved is not None and named_by == "PIPPER_REPOSITORY":
        layers.append(_saved_layer(saved, where))
    layers.append(in_project)
    if from_default and saved is not None:
        layers.append(_saved_layer(saved, f"{where} (the default)"))

    def pick(field: str) -> tuple[str | None, str]:
        for layer in layers:
            value = layer.values.get(field)
            if value and value.strip():
                return value, layer.labels[field]
        return None, "default"

    sources: dict[str, str] = {
        "repository": f"{named_by}" if named_by else f"the default in {store.path}",
    }
    if saved is None:
        sources["repository"] = "none (no -r, no PIPPER_REPOSITORY, no saved default)"
    location, sources["bucket"] = pick("bucket")
    if named_by is not None and saved is not None and not saved.bucket and not bucket:
        raise ConfigError(f"{where} has no bucket; give one with -b or modify the repository")
    is_default_local = location is None
    s3_bucket: str | None
    local: Path | None
    if location is None:
        s3_bucket, local = None, settings.data_dir / "repository"
        sources["bucket"] = "default local repository (no bucket configured)"
    else:
        s3_bucket, local = parse_location(location, sources["bucket"])

    prefix_text, sources["root_prefix"] = pick("root_prefix")
    prefix = (
        normalize_root_prefix(prefix_text, sources["root_prefix"])
        if prefix_text
        else DEFAULT_PREFIX
    )
    endpoint: str | None = None
    chosen_region: str | None = None
    if local is None:
        endpoint_text, sources["endpoint_url"] = pick("endpoint_url")
        if endpoint_text:
            endpoint = check_endpoint(endpoint_text, sources["endpoint_url"])
        else:
            sources["endpoint_url"] = "not set: AWS_ENDPOINT_URL_S3, the profile or AWS S3"
        region_text, sources["region"] = pick("region")
        chosen_region = region_text.strip() if region_text else None
        if not region_text:
            sources["region"] = "not set: the profile's, or found from the bucket"
    else:
        sources["endpoint_url"] = sources["region"] = "not used by a local repository"

    resolved = Repository(
        bucket=s3_bucket,
        root_prefix=prefix,
        endpoint_url=endpoint,
        region=chosen_region,
        local_path=local,
        name=saved_name if saved is not None else None,
        profile=saved.profile if saved is not None else None,
        is_default_local=is_default_local,
        from_default=from_default,
    )
    return Resolved(resolved, sources)
