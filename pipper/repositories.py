"""Where packages live: one ``Repository`` from options, the environment and saved repositories.

As in the original, ``-b`` replaces only the location: the saved repository in use (the one
named with ``-r``, else the default) still supplies the prefix, endpoint and profile. Without any
configuration the default local repository is used, so a first run works offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipper.errors import ConfigError
from pipper.locations import (
    DEFAULT_PREFIX,
    check_endpoint,
    normalize_root_prefix,
    parse_location,
    safe_url,
)
from pipper.saved import RepositoryStore, SavedRepository, default_store
from pipper.settings import Settings

__all__ = ["Repository", "resolve_repository"]


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


def resolve_repository(
    *,
    bucket: str | None,
    root_prefix: str | None,
    repository: str | None,
    endpoint_url: str | None,
    region: str | None,
    store: RepositoryStore | None = None,
    env: Mapping[str, str] | None = None,
) -> Repository:
    """Decide where packages live.

    As in the original, ``-b`` replaces only the location: the saved repository in use (the one
    named with ``-r``, else the default) still supplies the prefix, endpoint and profile. Without
    any configuration the default local repository is used, so a first run works offline.
    """
    settings = Settings(env)
    store = store if store is not None else default_store(settings)
    saved: SavedRepository | None = None
    saved_name: str | None = None
    from_default = False
    if repository:
        saved = store.get(repository)
        saved_name = repository
    else:
        default = store.default
        if default is not None:
            saved = store.get(default)
            saved_name = default
            from_default = True
    where = f"repository {saved_name!r} in {store.path}"

    is_default_local = False
    if bucket and bucket.strip():
        s3_bucket, local = parse_location(bucket)
    elif saved is not None and saved.bucket:
        s3_bucket, local = parse_location(saved.bucket, f"{where}: bucket")
    elif repository:
        raise ConfigError(f"{where} has no bucket; give one with -b or modify the repository")
    elif env_bucket := settings.bucket:
        s3_bucket, local = parse_location(env_bucket, "PIPPER_BUCKET")
    else:
        s3_bucket, local = None, settings.data_dir / "repository"
        is_default_local = True

    if root_prefix:
        prefix = normalize_root_prefix(root_prefix, "--root-prefix")
    elif saved is not None and saved.root_prefix:
        prefix = normalize_root_prefix(saved.root_prefix, f"{where}: root prefix")
    elif env_prefix := settings.root_prefix:
        prefix = normalize_root_prefix(env_prefix, "PIPPER_ROOT_PREFIX")
    else:
        prefix = DEFAULT_PREFIX

    endpoint: str | None = None
    chosen_region: str | None = None
    if local is None:
        if endpoint_url and endpoint_url.strip():
            endpoint = check_endpoint(endpoint_url, "--endpoint-url")
        elif saved is not None and saved.endpoint_url:
            endpoint = check_endpoint(saved.endpoint_url, f"{where}: endpoint URL")
        elif env_endpoint := settings.endpoint_url:
            endpoint = check_endpoint(env_endpoint, "PIPPER_ENDPOINT_URL")
        if region and region.strip():
            chosen_region = region.strip()
        elif saved is not None and saved.region:
            chosen_region = saved.region.strip() or None

    return Repository(
        bucket=s3_bucket,
        root_prefix=prefix,
        endpoint_url=endpoint,
        region=chosen_region,
        local_path=local,
        name=saved_name,
        profile=saved.profile if saved is not None else None,
        is_default_local=is_default_local,
        from_default=from_default,
    )
