"""How long a request to a networked store may take: every wait has an end.

The read timeout (``PIPPER_READ_TIMEOUT``) bounds one wait on a socket, and a server defeats it
without trying: a body sent one byte a second never waits long on any read, and a PUT whose
server never answers ``Expect: 100-continue`` never starts the read timeout at all. So every
request also has a deadline (``PIPPER_REQUEST_TIMEOUT``) that covers all of its retries, and a
request that moves a body is given that long plus the time the body takes at ``MIN_BODY_RATE``.
A body slower than that is cut off like a stalled one (and resumed, for a download); a slow but
honest link is never hurried, since the allowance grows with the size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import anyio

from pipper.storage.base import StreamInterrupted

__all__ = ["MIN_BODY_RATE", "body_seconds", "by_deadline", "chunks_by"]

T = TypeVar("T")

MIN_BODY_RATE = 16 * 1024
"""Bytes per second below which a body counts as stalled (128 kbit/s)."""


def body_seconds(request_timeout: float, size: int) -> float:
    """The deadline, in seconds, of a request that moves ``size`` bytes of body."""
    return request_timeout + max(size, 0) / MIN_BODY_RATE


async def by_deadline(deadline: float, call: Callable[[], Awaitable[T]]) -> T | None:
    """``call()``, or ``None`` when ``deadline`` (an ``anyio.current_time()``) passes first.

    Bodies are read through this one chunk at a time: a cancel scope around a single await is
    safe inside the async generator that yields the chunks, one around the whole loop is not.
    """
    with anyio.move_on_after(deadline - anyio.current_time()):
        return await call()
    return None


async def chunks_by(
    deadline: float,
    key: str,
    read: Callable[[], Awaitable[bytes]],
    errors: tuple[type[BaseException], ...],
) -> AsyncIterator[bytes]:
    """The chunks ``read()`` gives until an empty one, each by ``deadline``.

    A read that fails with one of ``errors`` (the connection broke) or misses the deadline (the
    body came too slowly) is ``StreamInterrupted``, which a download resumes.
    """
    while True:
        try:
            chunk = await by_deadline(deadline, read)
        except errors as exc:
            raise StreamInterrupted(f"the body of {key} broke off ({type(exc).__name__})") from None
        if chunk is None:
            raise StreamInterrupted(
                f"the body of {key} came slower than {MIN_BODY_RATE // 1024} KiB/s "
                "(see PIPPER_REQUEST_TIMEOUT)"
            )
        if not chunk:
            return
        yield chunk
