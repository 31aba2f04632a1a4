"""Every environment variable pipper reads, read here and nowhere else.

Each setting has one accessor on :class:`Settings`, built from a mapping (``os.environ`` by
default, a plain dict in tests), so what a run sees can be handed around and replaced as one
object. ``VARIABLES`` is the table the README and ``--help`` texts are written from.

The precedence for every setting is the same everywhere: a command-line option (and the saved
repository it names with ``-r``), then its ``PIPPER_*`` variable (and the saved repository
``PIPPER_REPOSITORY`` names), then the project's ``[tool.pipper]`` table (:mod:`pipper.project`),
then the saved default repository; it is applied in :mod:`pipper.repositories` and
:mod:`pipper.context`. An empty variable counts as unset, as it does for the AWS tools.

This module stays on the standard library: ``platformdirs`` is imported only when a default
directory is asked for, so ``pipper --help`` does not pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pipper.errors import ConfigError, UsageError

__all__ = ["VARIABLES", "AccessKeys", "Settings", "absolute"]

DEFAULT_CONCURRENCY = 32
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_REQUEST_TIMEOUT = 120.0
DEFAULT_RETRY_BACKOFF = 0.25

VARIABLES: dict[str, str] = {
    "PIPPER_HOME": "folder of repositories.json (default: ~/.pipper)",
    "PIPPER_CACHE_DIR": "the cache (default: the user cache directory)",
    "PIPPER_DATA_DIR": "the default local repository's parent (default: the user data directory)",
    "PIPPER_BUCKET": "S3 bucket or local repository path, like -b",
    "PIPPER_ROOT_PREFIX": "key prefix, like --root-prefix",
    "PIPPER_ENDPOINT_URL": "S3-compatible endpoint, like --endpoint-url",
    "PIPPER_REGION": "the bucket's region, like --region",
    "PIPPER_PROFILE": "AWS profile, like -p/--profile",
    "PIPPER_REPOSITORY": "a saved repository, like -r/--repository",
    "PIPPER_INSTALLER": "pip or uv, like install --installer (default: pip)",
    "PIPPER_CONCURRENCY": "requests in flight at once, like --concurrency (default: 32)",
    "PIPPER_NO_PROGRESS": "1 hides the progress display, like --no-progress",
    "PIPPER_READ_TIMEOUT": "seconds a request may wait for data before it is retried (default: 60)",
    "PIPPER_REQUEST_TIMEOUT": "seconds one request may take in all, retries included, plus 1 s "
    "per 16 KiB of its body (default: 120)",
    "PIPPER_RETRY_BACKOFF": "base seconds between retry rounds (default: 0.25)",
    "PIPPER_S3_LEAN": "0 sends GETs and listings through botocore's full request path (default: 1)",
    "PIPPER_AWS_ACCESS_KEY_ID": "access key, ranked above AWS_ACCESS_KEY_ID",
    "PIPPER_AWS_SECRET_ACCESS_KEY": "its secret",
    "PIPPER_AWS_SESSION_TOKEN": "its session token",
    "AWS_ACCESS_KEY_ID": "access key (with AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)",
    "AWS_ENDPOINT_URL_S3": "endpoint botocore uses when none is configured (also AWS_ENDPOINT_URL)",
    "AWS_CA_BUNDLE": "CA bundle for HTTPS, also for bundle URLs",
    "VIRTUAL_ENV": "the active virtual environment: where install goes by default",
    "NO_COLOR": "any value turns color off, like --color never",
    "FORCE_COLOR": "any value turns color on even off a terminal, like --color always",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

_AWS_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def absolute(path: str | Path) -> Path:
    """Expand ``~`` and make absolute without resolving symlinks: messages show the user's path."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


@dataclass(frozen=True, repr=False)
class AccessKeys:
    """An access key pair (and token) from the environment; its ``repr`` shows no secret."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None
    source: str

    def __repr__(self) -> str:
        return f"AccessKeys(source={self.source!r})"


def clean_token(token: str | None) -> str | None:
    """The original's placeholders for "no token" (``*``, ``0``, empty) mean no token here too.

    The one rule for it: credentials from ``-c``, the environment and saved repositories all
    pass through here.
    """
    if token is None:
        return None
    token = token.strip().strip("\"'")
    return token if len(token) > 1 else None


class Settings:
    """The environment of one command, read lazily, one property per variable."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env: Mapping[str, str] = os.environ if env is None else env

    @property
    def environ(self) -> Mapping[str, str]:
        """The mapping read, for the few callers that resolve settings of their own from it."""
        return self._env

    def get(self, name: str) -> str | None:
        """The stripped value of ``name``, ``None`` when unset or empty."""
        value = self._env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    # -- places -----------------------------------------------------------------------------

    @cached_property
    def home(self) -> Path:
        """``$PIPPER_HOME`` or ``~/.pipper``, where the original keeps its repositories file."""
        value = self.get("PIPPER_HOME")
        return absolute(value or "~/.pipper")

    @cached_property
    def cache_dir(self) -> Path:
        """``$PIPPER_CACHE_DIR`` or the platform's per-user cache directory for pipper."""
        value = self.get("PIPPER_CACHE_DIR")
        if value:
            return absolute(value)
        import platformdirs

        return Path(platformdirs.user_cache_dir("pipper", appauthor=False))

    @cached_property
    def data_dir(self) -> Path:
        """``$PIPPER_DATA_DIR`` or the platform's per-user data directory for pipper."""
        value = self.get("PIPPER_DATA_DIR")
        if value:
            return absolute(value)
        import platformdirs

        return Path(platformdirs.user_data_dir("pipper", appauthor=False))

    # -- the repository ---------------------------------------------------------------------

    @property
    def bucket(self) -> str | None:
        return self.get("PIPPER_BUCKET")

    @property
    def root_prefix(self) -> str | None:
        return self.get("PIPPER_ROOT_PREFIX")

    @property
    def endpoint_url(self) -> str | None:
        return self.get("PIPPER_ENDPOINT_URL")

    @property
    def region(self) -> str | None:
        return self.get("PIPPER_REGION")

    @property
    def profile(self) -> str | None:
        return self.get("PIPPER_PROFILE")

    @property
    def repository(self) -> str | None:
        """``PIPPER_REPOSITORY``: the name of a saved repository, as ``-r`` gives one."""
        return self.get("PIPPER_REPOSITORY")

    @property
    def aws_endpoint_url(self) -> str | None:
        """The endpoint botocore would use: ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``."""
        for name in _AWS_ENDPOINT_VARS:
            if value := self.get(name):
                return value
        return None

    def access_keys(self, prefix: str) -> AccessKeys | None:
        """``{prefix}ACCESS_KEY_ID`` and its secret (``PIPPER_AWS_`` or ``AWS_``); half is an
        error, since a lone key or secret is always a mistake."""
        key_var, secret_var = f"{prefix}ACCESS_KEY_ID", f"{prefix}SECRET_ACCESS_KEY"
        key, secret = self.get(key_var), self.get(secret_var)
        if key and not secret:
            raise ConfigError(f"{key_var} is set but {secret_var} is not")
        if secret and not key:
            raise ConfigError(f"{secret_var} is set but {key_var} is not")
        if not key or not secret:
            return None
        token = clean_token(self._env.get(f"{prefix}SESSION_TOKEN"))
        return AccessKeys(key, secret, token, f"{prefix}* environment variables")

    # -- how a run behaves ------------------------------------------------------------------

    @cached_property
    def concurrency(self) -> int:
        """``PIPPER_CONCURRENCY``, else the default (``concurrency_set`` says whether it is set)."""
        return self.concurrency_set or DEFAULT_CONCURRENCY

    @cached_property
    def concurrency_set(self) -> int | None:
        text = self.get("PIPPER_CONCURRENCY")
        if text is None:
            return None
        try:
            number = int(text)
        except ValueError:
            raise UsageError(f"PIPPER_CONCURRENCY must be a whole number, not {text!r}") from None
        if not 1 <= number <= 1024:
            raise UsageError("PIPPER_CONCURRENCY must be between 1 and 1024")
        return number

    @cached_property
    def installer(self) -> str | None:
        """``PIPPER_INSTALLER``: ``pip`` or ``uv``."""
        value = self.get("PIPPER_INSTALLER")
        if value is not None and value.lower() not in ("pip", "uv"):
            raise UsageError(f"PIPPER_INSTALLER must be pip or uv, not {value!r}")
        return value.lower() if value is not None else None

    @property
    def no_progress(self) -> bool:
        return self._flag("PIPPER_NO_PROGRESS")

    @property
    def no_color(self) -> bool:
        """``NO_COLOR`` set to anything (no-color.org)."""
        return self.get("NO_COLOR") is not None

    @property
    def force_color(self) -> bool:
        """``FORCE_COLOR`` set to anything (force-color.org)."""
        return self.get("FORCE_COLOR") is not None

    @cached_property
    def read_timeout(self) -> float:
        return self._seconds("PIPPER_READ_TIMEOUT", DEFAULT_READ_TIMEOUT, 3600.0, zero=False)

    @cached_property
    def request_timeout(self) -> float:
        """The deadline of one request across all its retries: a store that never answers, or
        drips its answer, ends the run after this long instead of never."""
        return self._seconds("PIPPER_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT, 3600.0, zero=False)

    @cached_property
    def retry_backoff(self) -> float:
        """The first pause between retry rounds; 0 (tests) gives up on a dead store at once."""
        return self._seconds("PIPPER_RETRY_BACKOFF", DEFAULT_RETRY_BACKOFF, 60.0, zero=True)

    @cached_property
    def lean_s3(self) -> bool:
        """``PIPPER_S3_LEAN``: GETs and listings signed and sent by ``storage.s3lean`` (on
        unless 0)."""
        return self.get("PIPPER_S3_LEAN") is None or self._flag("PIPPER_S3_LEAN")

    @property
    def ca_bundle(self) -> str | None:
        return self.get("AWS_CA_BUNDLE")

    @property
    def virtual_env(self) -> str | None:
        return self.get("VIRTUAL_ENV")

    def _flag(self, name: str) -> bool:
        text = self.get(name)
        if text is None or text.lower() in _FALSE:
            return False
        if text.lower() in _TRUE:
            return True
        raise UsageError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), not {text!r}")

    def _seconds(self, name: str, default: float, most: float, *, zero: bool) -> float:
        text = self.get(name)
        if text is None:
            return default
        try:
            seconds = float(text)
        except ValueError:
            raise UsageError(f"{name} must be a number of seconds, not {text!r}") from None
        low = seconds >= 0 if zero else seconds > 0
        if not (low and seconds <= most):  # NaN fails both comparisons
            least = "at least 0" if zero else "more than 0"
            raise UsageError(f"{name} must be {least} and at most {most:.0f}")
        return seconds
