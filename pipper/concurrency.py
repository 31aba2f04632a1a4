"""Task groups that fail with the error that mattered.

anyio wraps every failure inside a task group in an ``ExceptionGroup``. For a user, the first
``PipperError`` of the group is the message; this helper raises that (or the first other error)
as itself, so callers and the command line handle one exception type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup

from pipper.errors import PipperError


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc))
        else:
            found.append(exc)
    return found


@asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    try:
        async with anyio.create_task_group() as tg:
            yield tg
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        chosen: BaseException | None = next((e for e in leaves if isinstance(e, PipperError)), None)
        if chosen is None:
            chosen = next((e for e in leaves if isinstance(e, Exception)), leaves[0])
        raise chosen from None
