"""Which credentials reach a repository, in the original pipper's seven-step order.

Where they came from is reported (``--debug``), never what they are: a ``Credentials`` prints
masked, and no secret is written to a log, a message or a file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipper.errors import ConfigError
from pipper.repositories import Repository
from pipper.saved import RepositoryStore, SavedRepository, default_store
from pipper.settings import Settings, clean_token

__all__ = ["FROM_STDIN", "Credentials", "complete_credentials", "resolve_credentials"]

FROM_STDIN = "-"
"""``-c KEY - TOKEN``: a secret (or token) given as ``-`` is read from standard input."""


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
            session_token=clean_token(saved.session_token),
            source=f"keys saved with {label}",
        )
    return None


def complete_credentials(
    credentials: tuple[str, str, str], read: Callable[[str], str]
) -> tuple[tuple[str, str, str], bool]:
    """``-c KEY SECRET TOKEN`` with each ``-`` replaced by ``read(what)``, and whether a secret
    or a token was typed on the command line itself.

    Arguments are visible to every user of the machine (``ps``, ``/proc/PID/cmdline``) and land
    in shell histories, so a secret belongs on standard input or in the environment; the caller
    reads (the command line reads standard input) and warns. The secret is read before the token.
    """
    key, secret, token = credentials
    typed = False
    if secret == FROM_STDIN:
        secret = read("secret access key")
    else:
        typed = bool(secret.strip())
    if token == FROM_STDIN:
        token = read("session token")
    elif clean_token(token) is not None:
        typed = True
    return (key, secret, token), typed


def resolve_credentials(
    *,
    credentials: tuple[str, str, str] | None,
    profile: str | None,
    repository: Repository,
    store: RepositoryStore | None = None,
    env: Mapping[str, str] | None = None,
) -> Credentials:
    """Pick credentials in the original's order; the first source that gives any wins.

    1. ``-c KEY SECRET TOKEN`` (its ``-`` already read, see :func:`complete_credentials`);
    2. the ``-r`` repository's profile, then its keys; 3. ``-p``; 4. ``PIPPER_AWS_*``;
    5. ``AWS_*`` keys; 6. the default repository's profile, then its keys; 7. botocore's own
    chain (``AWS_PROFILE``, config files, instance roles).
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
            session_token=clean_token(token),
            source="-c/--credentials",
        )

    settings = Settings(env)
    lazy_store: list[RepositoryStore] = []

    def get_store() -> RepositoryStore:
        if not lazy_store:
            lazy_store.append(store if store is not None else default_store(settings))
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
        keys = settings.access_keys(prefix)
        if keys is not None:
            return Credentials(
                access_key_id=keys.access_key_id,
                secret_access_key=keys.secret_access_key,
                session_token=keys.session_token,
                source=keys.source,
            )

    saved = get_store()
    default_name = saved.default
    if default_name is not None:
        found = _saved_credentials(saved.get(default_name), f"default repository {default_name!r}")
        if found is not None:
            return found

    return Credentials()
