"""Where packages live and which credentials reach them.

The command line imports this module before it knows whether any S3 call will be made, so it stays
on the standard library (``platformdirs`` is imported only when a directory is asked for).

Two questions are answered here, each with the original pipper's precedence so a team can switch
tools without surprises:

- *where*: ``resolve_repository`` turns ``-b``/``-r``/``--root-prefix``/``--endpoint-url`` options,
  the saved repositories file and ``PIPPER_*`` variables into one ``Repository`` (an S3 bucket and
  prefix, or a local directory);
- *who*: ``resolve_credentials`` picks credentials in the original's seven-step order and reports
  where they came from, without ever revealing a secret.

The saved repositories live in ``~/.pipper/repositories.json`` in the original's format. Fields this
module does not know are kept, because another tool (or an older pipper) may share the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pipper.errors import ConfigError, NotFoundError

__all__ = [
    "DEFAULT_PREFIX",
    "Credentials",
    "Repository",
    "RepositoryStore",
    "SavedRepository",
    "cache_dir",
    "data_dir",
    "normalize_root_prefix",
    "parse_location",
    "pipper_home",
    "resolve_credentials",
    "resolve_repository",
    "validate_repository_name",
]

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "pipper"
REPOSITORIES_FILE = "repositories.json"

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    """An empty variable counts as unset, as it does for the AWS tools."""
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _absolute(path: str | Path) -> Path:
    """Expand ``~`` and make absolute without resolving symlinks: messages show the user's path."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def pipper_home(env: Mapping[str, str] = os.environ) -> Path:
    """``$PIPPER_HOME`` or ``~/.pipper``, where the original keeps its repositories file."""
    value = _env_value(env, "PIPPER_HOME")
    return _absolute(value) if value else _absolute("~/.pipper")


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$PIPPER_CACHE_DIR`` or the platform's per-user cache directory for pipper."""
    value = _env_value(env, "PIPPER_CACHE_DIR")
    if value:
        return _absolute(value)
    import platformdirs

    return Path(platformdirs.user_cache_dir("pipper", appauthor=False))


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$PIPPER_DATA_DIR`` or the platform's per-user data directory for pipper."""
    value = _env_value(env, "PIPPER_DATA_DIR")
    if value:
        return _absolute(value)
    import platformdirs

    return Path(platformdirs.user_data_dir("pipper", appauthor=False))


def _safe_url(url: str) -> str:
    """The URL without any ``user:password@`` part, so it can appear in messages and cache keys."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def _check_endpoint(url: str, what: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{what} {_safe_url(url)!r} is not an http:// or https:// URL "
            "(for example http://127.0.0.1:9000)"
        )
    return url


def validate_repository_name(name: str) -> str:
    """Names become CLI arguments and JSON keys; keep them to a plain, portable alphabet."""
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a valid repository name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def normalize_root_prefix(value: str, what: str = "root prefix") -> str:
    """Strip surrounding slashes and refuse prefixes that would escape or confuse the key layout.

    ``..`` and ``.`` segments would let a local repository write outside its directory, and
    backslashes or control characters make keys that differ by platform or cannot be typed.
    """
    if _CONTROL_RE.search(value):
        raise ConfigError(f"{what} must not contain control characters")
    if "\\" in value:
        raise ConfigError(f"{what} {value!r} must not contain backslashes; separate parts with '/'")
    stripped = value.strip().strip("/")
    if not stripped:
        raise ConfigError(f"{what} {value!r} is empty; leave it out to use {DEFAULT_PREFIX!r}")
    for segment in stripped.split("/"):
        if segment in ("", ".", ".."):
            raise ConfigError(
                f"{what} {value!r} has an empty, '.' or '..' part; use plain names like team/pkgs"
            )
    return stripped


def _path_from_file_url(value: str, what: str) -> Path:
    parts = urlsplit(value)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(
            f"{what} {value!r} names another host; a file:// URL must look like file:///abs/path"
        )
    path = unquote(parts.path)
    if not path:
        raise ConfigError(f"{what} {value!r} has no path; use file:///abs/path")
    if sys.platform == "win32" and re.match(r"/[A-Za-z]:", path):
        path = path[1:]
    return _absolute(path)


def parse_location(value: str, what: str = "-b/--bucket") -> tuple[str | None, Path | None]:
    """Split a ``-b`` value into ``(bucket, None)`` for S3 or ``(None, path)`` for a directory.

    A value is a local directory when it is a ``file://`` URL or could not be a bucket name anyway
    (it has a slash or backslash, or starts with ``.`` or ``~``), so no extra option is needed.
    ``s3://bucket`` is accepted for convenience.
    """
    value = value.strip()
    if not value:
        raise ConfigError(f"{what} is empty")
    if _CONTROL_RE.search(value):
        raise ConfigError(f"{what} must not contain control characters")
    lowered = value.lower()
    if lowered.startswith("file:"):
        if not lowered.startswith("file://"):
            raise ConfigError(f"{what} {value!r}: a file URL must look like file:///abs/path")
        return None, _path_from_file_url(value, what)
    if lowered.startswith("s3://"):
        rest = value[5:]
        name, _, prefix = rest.partition("/")
        if prefix.strip("/"):
            raise ConfigError(
                f"{what} {value!r} includes a prefix; give the bucket alone and the prefix "
                "with --root-prefix"
            )
        value = name
    elif _SCHEME_RE.match(value):
        raise ConfigError(
            f"{what} {value!r}: only s3:// and file:// URLs are understood; "
            "give the endpoint with --endpoint-url"
        )
    elif "/" in value or "\\" in value or value.startswith((".", "~")):
        return None, _absolute(value)
    if not _BUCKET_RE.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} is not a valid bucket name (3-63 lowercase letters, digits, '.' "
            "or '-'); for a local directory use a path like ./repo or file:///..."
        )
    return value, None


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
            return f"{base}?endpoint={_safe_url(self.endpoint_url)}"
        return base

    def describe(self) -> str:
        if self.local_path is not None:
            return f"local directory {self.local_path} (prefix {self.root_prefix})"
        text = f"s3://{self.bucket}/{self.root_prefix}"
        if self.endpoint_url:
            text += f" at {_safe_url(self.endpoint_url)}"
        return text


def _clean_token(token: str | None) -> str | None:
    """The original's placeholders for "no token" (``*``, ``0``, empty) mean no token here too."""
    if token is None:
        return None
    token = token.strip().strip("\"'")
    return token if len(token) > 1 else None


def _mask(access_key_id: str) -> str:
    return "****" + access_key_id[-4:] if len(access_key_id) > 8 else "****"


@dataclass(frozen=True, repr=False)
class Credentials:
    """What to hand botocore; empty means its standard chain. Printing it never shows a secret."""

    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    profile: str | None = None
    source: str = "default AWS chain"

    def __repr__(self) -> str:
        key = _mask(self.access_key_id) if self.access_key_id else None
        secret = "<hidden>" if self.secret_access_key else None
        token = "<hidden>" if self.session_token else None
        return (
            f"Credentials(source={self.source!r}, profile={self.profile!r}, "
            f"access_key_id={key!r}, secret_access_key={secret}, session_token={token})"
        )

    __str__ = __repr__

    def describe(self) -> str:
        """One line for ``--debug``: which credentials, from where."""
        if self.profile:
            return f"AWS profile {self.profile!r} ({self.source})"
        if self.access_key_id:
            token = " with a session token" if self.session_token else ""
            return f"access key {_mask(self.access_key_id)}{token} ({self.source})"
        return self.source


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
        saved.endpoint_url = _check_endpoint(saved.endpoint_url, f"{what}: endpoint URL")
    if saved.access_key_id and not saved.secret_access_key:
        raise ConfigError(f"{what}: an access key id needs its secret access key")
    return saved


class RepositoryStore:
    """The saved repositories file: read lazily, changed in memory, written only by ``save``.

    A file that cannot be read is reported and then never written by this store, so a typo made
    by hand is not silently replaced by an empty configuration.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else pipper_home() / REPOSITORIES_FILE
        self._doc: dict[str, Any] | None = None
        self._error: ConfigError | None = None
        self._warned_default = False

    def load(self) -> None:
        """(Re)read the file; a missing file is an empty store."""
        self._doc = None
        self._error = None
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._doc = {"repositories": {}, "default": None}
            return
        except OSError as exc:
            self._error = ConfigError(f"cannot read {self.path}: {exc.strerror or exc}")
            raise self._error from None
        try:
            doc = json.loads(raw.decode("utf-8"))
            self._check_shape(doc)
        except (UnicodeDecodeError, ValueError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
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
        from pipper.fsutil import atomic_write_bytes

        doc = self._data()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(self.path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)


def _default_store(env: Mapping[str, str]) -> RepositoryStore:
    return RepositoryStore(pipper_home(env) / REPOSITORIES_FILE)


def resolve_repository(
    *,
    bucket: str | None,
    root_prefix: str | None,
    repository: str | None,
    endpoint_url: str | None,
    region: str | None,
    store: RepositoryStore | None = None,
    env: Mapping[str, str] = os.environ,
) -> Repository:
    """Decide where packages live.

    As in the original, ``-b`` replaces only the location: the saved repository in use (the one
    named with ``-r``, else the default) still supplies the prefix, endpoint and profile. Without
    any configuration the default local repository is used, so a first run works offline.
    """
    store = store if store is not None else _default_store(env)
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
    elif env_bucket := _env_value(env, "PIPPER_BUCKET"):
        s3_bucket, local = parse_location(env_bucket, "PIPPER_BUCKET")
    else:
        s3_bucket, local = None, data_dir(env) / "repository"
        is_default_local = True

    if root_prefix:
        prefix = normalize_root_prefix(root_prefix, "--root-prefix")
    elif saved is not None and saved.root_prefix:
        prefix = normalize_root_prefix(saved.root_prefix, f"{where}: root prefix")
    elif env_prefix := _env_value(env, "PIPPER_ROOT_PREFIX"):
        prefix = normalize_root_prefix(env_prefix, "PIPPER_ROOT_PREFIX")
    else:
        prefix = DEFAULT_PREFIX

    endpoint: str | None = None
    chosen_region: str | None = None
    if local is None:
        if endpoint_url and endpoint_url.strip():
            endpoint = _check_endpoint(endpoint_url, "--endpoint-url")
        elif saved is not None and saved.endpoint_url:
            endpoint = _check_endpoint(saved.endpoint_url, f"{where}: endpoint URL")
        elif env_endpoint := _env_value(env, "PIPPER_ENDPOINT_URL"):
            endpoint = _check_endpoint(env_endpoint, "PIPPER_ENDPOINT_URL")
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


def _env_keys(env: Mapping[str, str], prefix: str) -> Credentials | None:
    key_var = f"{prefix}ACCESS_KEY_ID"
    secret_var = f"{prefix}SECRET_ACCESS_KEY"
    key = _env_value(env, key_var)
    secret = _env_value(env, secret_var)
    if key and not secret:
        raise ConfigError(f"{key_var} is set but {secret_var} is not")
    if secret and not key:
        raise ConfigError(f"{secret_var} is set but {key_var} is not")
    if not key:
        return None
    token = _clean_token(env.get(f"{prefix}SESSION_TOKEN"))
    return Credentials(
        access_key_id=key,
        secret_access_key=secret,
        session_token=token,
        source=f"{prefix}* environment variables",
    )


def _saved_credentials(saved: SavedRepository, label: str) -> Credentials | None:
    """The repository's profile, else its keys, else nothing (the original's order)."""
    if saved.profile:
        return Credentials(profile=saved.profile, source=f"profile of {label}")
    if saved.access_key_id or saved.secret_access_key:
        if not (saved.access_key_id and saved.secret_access_key):
            raise ConfigError(f"{label} has only half of an access key and secret")
        return Credentials(
            access_key_id=saved.access_key_id,
            secret_access_key=saved.secret_access_key,
            session_token=_clean_token(saved.session_token),
            source=f"keys saved with {label}",
        )
    return None


def resolve_credentials(
    *,
    credentials: tuple[str, str, str] | None,
    profile: str | None,
    repository: Repository,
    store: RepositoryStore | None = None,
    env: Mapping[str, str] = os.environ,
) -> Credentials:
    """Pick credentials in the original's order; the first source that gives any wins.

    1. ``-c KEY SECRET TOKEN``; 2. the ``-r`` repository's profile, then its keys; 3. ``-p``;
    4. ``PIPPER_AWS_*``; 5. ``AWS_*`` keys; 6. the default repository's profile, then its keys;
    7. botocore's own chain (``AWS_PROFILE``, config files, instance roles).
    """
    if repository.is_local:
        return Credentials(source="none needed for a local directory")

    if credentials is not None:
        parts = [part.strip().strip("\"'") for part in credentials]
        key = parts[0] if parts else ""
        secret = parts[1] if len(parts) > 1 else ""
        token = parts[2] if len(parts) > 2 else None
        if not key or not secret:
            raise ConfigError("-c/--credentials needs an access key id and a secret access key")
        return Credentials(
            access_key_id=key,
            secret_access_key=secret,
            session_token=_clean_token(token),
            source="-c/--credentials",
        )

    lazy_store: list[RepositoryStore] = []

    def get_store() -> RepositoryStore:
        if not lazy_store:
            lazy_store.append(store if store is not None else _default_store(env))
        return lazy_store[0]

    if repository.name and not repository.from_default:
        label = f"repository {repository.name!r}"
        if repository.profile:
            return Credentials(profile=repository.profile, source=f"profile of {label}")
        chosen = get_store()
        if chosen.exists(repository.name):
            found = _saved_credentials(chosen.get(repository.name), label)
            if found is not None:
                return found

    if profile and profile.strip():
        return Credentials(profile=profile.strip(), source="-p/--profile")

    for prefix in ("PIPPER_AWS_", "AWS_"):
        found = _env_keys(env, prefix)
        if found is not None:
            return found

    default_store = get_store()
    default_name = default_store.default
    if default_name is not None:
        found = _saved_credentials(
            default_store.get(default_name), f"default repository {default_name!r}"
        )
        if found is not None:
            return found

    return Credentials()
