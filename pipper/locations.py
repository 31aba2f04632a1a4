"""Spelling a repository's location: bucket names, local paths, prefixes, endpoint URLs.

Every value a user types for "where" (``-b``, ``--root-prefix``, ``--endpoint-url``, the same
fields of a saved repository) is checked here, once, with a message that names the option.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from pipper.errors import ConfigError
from pipper.settings import absolute

__all__ = [
    "DEFAULT_PREFIX",
    "check_bucket_name",
    "check_endpoint",
    "normalize_root_prefix",
    "parse_location",
    "safe_url",
    "validate_repository_name",
]

DEFAULT_PREFIX = "pipper"

_BUCKET_CHARS_RE = re.compile(r"[a-z0-9.-]+")
_IP_RE = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def safe_url(url: str) -> str:
    """An endpoint's canonical spelling (no user info, query or trailing slash; lowercase scheme)
    for repository ids and cache keys, so two spellings of one endpoint share a cache. Anything
    else that shows a URL uses :func:`pipper.keys.mask_url`."""
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


def check_endpoint(url: str, what: str) -> str:
    """``url`` stripped, when it is an http(s) URL with no user info.

    S3 requests are signed with the credentials pipper resolves; user info in the endpoint is
    never used, so it could only be a password that ends up saved, shown or logged. It is
    refused wherever an endpoint is given, saved or read back.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{what} {safe_url(url)!r} is not an http:// or https:// URL "
            "(for example http://127.0.0.1:9000)"
        )
    if "@" in parts.netloc:
        raise ConfigError(
            f"{what} {safe_url(url)!r} carries user info (user:password@); pipper never takes "
            "credentials from an endpoint URL: give them with -c/--credentials or -p/--profile"
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
    return absolute(path)


def _is_local_spelling(value: str) -> bool:
    """A local repository is spelled so that it cannot be read as a bucket name: ``./``, ``../``,
    ``/`` or ``~`` in front (``.`` and ``..`` alone too), or a drive path on Windows."""
    if value in (".", "..") or value.startswith(("./", "../", "/", "~")):
        return True
    if sys.platform == "win32":
        return value.startswith((".\\", "..\\", "\\")) or bool(re.match(r"[A-Za-z]:[\\/]", value))
    return False


def check_bucket_name(name: str, what: str = "-b/--bucket") -> str:
    """S3's naming rules for general purpose buckets, each broken rule said in words.

    Anything that is not spelled as a local path ends up here, so a value meant as a folder
    (``team-pkgs/shared``) is refused with the spelling that would have worked, instead of
    silently writing somewhere else.
    """
    hint = f"for a local directory write ./{name} (or an absolute path, or a file:// URL)"
    if "/" in name or "\\" in name:
        bucket, _, rest = name.replace("\\", "/").partition("/")
        raise ConfigError(
            f"{what} {name!r} is not a bucket name: a bucket name has no '/'; for a prefix inside "
            f"a bucket use -b {bucket} --root-prefix {rest.strip('/') or 'PREFIX'}, {hint}"
        )
    problem = None
    if not 3 <= len(name) <= 63:
        problem = "it must be 3 to 63 characters long"
    elif not _BUCKET_CHARS_RE.fullmatch(name):
        problem = "it may only hold lowercase letters, digits, '.' and '-'"
    elif not (name[0].isalnum() and name[-1].isalnum()):
        problem = "it must start and end with a letter or digit"
    elif ".." in name:
        problem = "it must not hold two dots in a row"
    elif _IP_RE.fullmatch(name):
        problem = "it must not look like an IP address"
    elif name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        problem = "it starts or ends with a form S3 reserves (xn--, sthree-, -s3alias, --ol-s3)"
    if problem is not None:
        raise ConfigError(f"{what} {name!r} is not a valid bucket name: {problem}; {hint}")
    return name


def parse_location(value: str, what: str = "-b/--bucket") -> tuple[str | None, Path | None]:
    """Split a ``-b`` value into ``(bucket, None)`` for S3 or ``(None, path)`` for a directory.

    The two must never be confused, since a wrong guess writes packages where nobody looks: a
    local directory is a ``file://`` URL or a path starting with ``./``, ``../``, ``/`` or ``~``;
    anything else is a bucket name (``s3://bucket`` too) and must follow S3's naming rules.
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
        name, _, prefix = value[5:].partition("/")
        if prefix.strip("/"):
            raise ConfigError(
                f"{what} {value!r} includes a prefix; give the bucket alone and the prefix "
                "with --root-prefix"
            )
        return check_bucket_name(name, what), None
    if _SCHEME_RE.match(value):
        raise ConfigError(
            f"{what} {value!r}: only s3:// and file:// URLs are understood; "
            "give the endpoint with --endpoint-url"
        )
    if _is_local_spelling(value):
        return None, absolute(value)
    return check_bucket_name(value, what), None
