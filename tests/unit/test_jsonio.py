"""The bounded JSON reader: its limits, exactly at and one past them."""

from __future__ import annotations

import pytest

from pipper.jsonio import MAX_DEPTH, MAX_INT_DIGITS, JsonError, parse_json


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_parse_json_bounds_depth_and_number_length_exactly() -> None:
    value = parse_json(deep(MAX_DEPTH))
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []
    assert parse_json(f'{{"n": -{"9" * MAX_INT_DIGITS}}}') == {"n": -int("9" * MAX_INT_DIGITS)}
    assert parse_json(b'\xef\xbb\xbf{"bom": 1.5e999}') == {"bom": float("inf")}
    cases: list[tuple[str | bytes, str]] = [
        (deep(MAX_DEPTH + 1), "nested too deeply"),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
        (f"[{'9' * (MAX_INT_DIGITS + 1)}]", f"{MAX_INT_DIGITS + 1} digits"),
        (b'{"a": "\xff"}', "not UTF-8"),
        ('{"a": }', "Expecting value"),
    ]
    for text, says in cases:
        with pytest.raises(JsonError, match=says) as caught:
            parse_json(text)
        assert caught.value.at("f.json").startswith("f.json:")
