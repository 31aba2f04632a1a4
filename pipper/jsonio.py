"""Reading JSON someone else wrote: bounded in nesting depth and in the length of its numbers.

Every JSON document pipper reads can be written by someone other than the user running it: a
pull request edits ``pipper.lock`` or ``pipper.json``, anyone with write access to the bucket
writes a bundle's ``package.meta``, a hand edit breaks ``repositories.json``. The standard
library's reader turns two kinds of hostile text into exceptions that say nothing about JSON:
nesting deeper than the interpreter's stack raises ``RecursionError``, and nesting just under that
parses, then breaks whatever walks or re-encodes the value later (publishing a meta as S3 user
metadata); an integer of more than 4,300 digits raises ``ValueError`` from ``int()``. Here both
are refused while parsing, with one :class:`JsonError` the caller turns into its own one-line
error, so a value that comes back is shallow and holds only ordinary numbers. Size limits stay
with the callers (:func:`pipper.fsutil.read_small_file`), which know what a sane file is.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "JsonError", "parse_json"]

MAX_DEPTH = 64
"""Containers inside containers; no file pipper reads needs more than a handful."""
MAX_INT_DIGITS = 100
"""The longest integer accepted; sizes and counts need 13 digits, ``int()`` gives up at 4,300."""


class JsonError(ValueError):
    """Why a document is not acceptable JSON; ``at(path)`` is the line a user should see."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column

    def at(self, where: object) -> str:
        """``where:line:column: reason`` (or ``where: reason``), for an error message."""
        if self.line is None:
            return f"{where}: {self.reason}"
        return f"{where}:{self.line}:{self.column}: {self.reason}"


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise JsonError(f"a number of {digits} digits, more than {MAX_INT_DIGITS}")
    return int(text)


def _check_depth(value: dict[str, Any] | list[Any], max_depth: int) -> None:
    """Walk without recursion, so checking a deep value cannot fail the way using it would."""
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > max_depth:
            raise JsonError(f"nested too deeply, more than {max_depth} levels")
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def parse_json(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of a JSON document, or ``JsonError``; bytes must be UTF-8 (a BOM is allowed)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonError(f"not UTF-8 text (bad byte at offset {exc.start})") from None
    else:
        text = data
    try:
        value = json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise JsonError(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise JsonError(f"nested too deeply, more than {max_depth} levels") from None
    if isinstance(value, dict | list):
        _check_depth(value, max_depth)
    return value
