"""The store's two timing settings (``pipper.settings``): the read timeout, the retry pause."""

from __future__ import annotations

import pytest

from pipper.errors import UsageError
from pipper.settings import DEFAULT_READ_TIMEOUT, DEFAULT_RETRY_BACKOFF, Settings


def read_timeout_from_env() -> float:
    return Settings().read_timeout


def retry_backoff_from_env() -> float:
    return Settings().retry_backoff


def test_unset_means_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPPER_READ_TIMEOUT", raising=False)
    monkeypatch.delenv("PIPPER_RETRY_BACKOFF", raising=False)
    assert read_timeout_from_env() == DEFAULT_READ_TIMEOUT == 60.0
    assert retry_backoff_from_env() == DEFAULT_RETRY_BACKOFF == 0.25
    monkeypatch.setenv("PIPPER_RETRY_BACKOFF", "  ")
    assert retry_backoff_from_env() == DEFAULT_RETRY_BACKOFF


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("0.001", 0.001), (" 2.5 ", 2.5)])
def test_the_retry_backoff_may_be_zero(
    monkeypatch: pytest.MonkeyPatch, text: str, seconds: float
) -> None:
    monkeypatch.setenv("PIPPER_RETRY_BACKOFF", text)
    assert retry_backoff_from_env() == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "must be a number of seconds, not 'soon'"),
        ("-1", "must be at least 0 and at most 60"),
        ("61", "must be at least 0 and at most 60"),
        ("nan", "must be at least 0 and at most 60"),
        ("inf", "must be at least 0 and at most 60"),
    ],
)
def test_a_bad_retry_backoff_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setenv("PIPPER_RETRY_BACKOFF", text)
    with pytest.raises(UsageError, match=rf"^PIPPER_RETRY_BACKOFF {message}$"):
        retry_backoff_from_env()


@pytest.mark.parametrize("text", ["0", "-5", "nan", "3601"])
def test_the_read_timeout_must_be_positive(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("PIPPER_READ_TIMEOUT", text)
    with pytest.raises(
        UsageError, match=r"^PIPPER_READ_TIMEOUT must be more than 0 and at most 3600$"
    ):
        read_timeout_from_env()
