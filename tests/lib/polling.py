"""Wait for a condition instead of sleeping for a guess.

A test that sleeps "long enough" is slow on a fast machine and flaky on a busy one; polling for
the condition it actually needs is neither. The timeout only bounds a test that would otherwise
hang, so it can be generous.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
DEFAULT_INTERVAL = 0.02


def wait_for(
    predicate: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    interval: float = DEFAULT_INTERVAL,
    what: str = "the condition",
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` when ``timeout`` seconds pass first. An exception
    from the predicate is not swallowed: it is the test's to see.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
