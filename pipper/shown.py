"""Keys, file names and URLs as they may be shown: escaped, and without secrets.

Keys and URLs in messages come from buckets and files other people write, and URLs may carry a
password or a signature; every message that shows one goes through here.
"""

from __future__ import annotations

import re

__all__ = ["mask_url", "printable", "redact_url"]


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` with every non-printable character escaped (``\\x1b``, ``\\r``, ``\\u202e``).

    Keys, file names and URLs in messages come from buckets and files other people write; shown
    raw, an escape sequence in one recolours, moves or rewrites the user's terminal. Newlines
    become spaces, or stay with ``multiline`` (a message that quotes a tool's output).
    """
    if text.isprintable():
        return text
    lines = [
        "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in line)
        for line in text.split("\n")
    ]
    return ("\n" if multiline else " ").join(lines)


def mask_url(url: str) -> str:
    """``url`` as it may be shown: without user info, query string or fragment.

    The one helper for every URL pipper prints or logs (bundle URLs, whose query is a signature;
    index URLs, whose user info is a password). A value with no ``://`` keeps its text up to any
    ``?`` or ``#``, so an argument list can be masked item by item.
    """
    base = re.split(r"[?#]", url, maxsplit=1)[0]
    scheme, sep, rest = base.partition("://")
    if not sep:
        return base
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


redact_url = mask_url
"""The earlier name of :func:`mask_url`."""
