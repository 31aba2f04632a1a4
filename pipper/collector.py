"""When the cyclic garbage collector runs in a ``pipper`` process.

A command is one short process, and most of what it allocates lives until it ends: the modules
it imports (typer's at start-up; aiobotocore's, botocore's and aiohttp's when a run opens its S3
client) and the client itself: about 25,000 tracked objects after start-up and 100,000 once
the client is made. The collector would scan them again and again for cycles that are not
there: two young collections that met them cost a cold download about 40 ms, 3% of its CPU
(and a warm one about 50 ms, 7%). So the ``pipper`` script makes no collection while its
start-up is imported and then freezes what exists (``take_over``), and ``long_lived`` does the
same around the S3 client's import and creation. What a run allocates afterwards (responses,
chunks, tasks) is collected as usual, less often (``THRESHOLDS``).

Only the ``pipper`` script hands the collector over: a process that imports pipper (the tests,
a program calling its API) keeps Python's own collection, since freezing there would keep every
client it ever opened.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["THRESHOLDS", "long_lived", "take_over"]

THRESHOLDS = (50_000, 50, 100)
"""The collector's thresholds once the start-up is frozen (Python's are 700, 10, 10)."""

_owned = False


def take_over() -> None:
    """Freeze everything allocated so far and collect what comes later at ``THRESHOLDS``; for
    the ``pipper`` script only, which turned collection off before importing its start-up."""
    global _owned
    _owned = True
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    gc.enable()


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Objects made inside live as long as the process: no collection while they are made,
    and none scans them after. Nothing changes in a process pipper does not own."""
    if not _owned:
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
