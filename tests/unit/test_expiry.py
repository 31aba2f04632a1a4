"""``pipper authorize --expires``: the duration parser, on its own."""

from __future__ import annotations

import pytest

from pipper.cli.authorize import parse_expiry
from pipper.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("2h", 7200),
        ("7d", 604800),
        ("3600", 3600),
        (" 2H ", 7200),
        ("1", 1),
        ("604800", 604800),
        ("168h", 604800),
    ],
)
def test_expiry_parser_accepts(text: str, seconds: int) -> None:
    assert parse_expiry(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8d", "at most 7 days"),
        ("604801", "at most 7 days"),
        ("169h", "at most 7 days"),
        ("0", "at least one second"),
        ("0s", "at least one second"),
        ("", "is not a duration"),
        ("2 hours", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("-5", "is not a duration"),
        ("1w", "is not a duration"),
        ("h", "is not a duration"),
        ("9" * 40, "is not a duration"),
    ],
)
def test_expiry_parser_refuses(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_expiry(text)
