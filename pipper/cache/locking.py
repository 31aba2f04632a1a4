"""The lock between runs and ``cache prune``: a shared ``flock`` per run, an exclusive one to prune.

Removing entries is the one thing that could hurt another process: a run that has checked a blob
and is about to link it into a folder (or hand it to pip) must not see it vanish. So every run
holds a *shared* ``flock`` on ``lock`` for its whole length, and ``prune`` takes the *exclusive*
lock: it waits, saying so, until the runs going on when it started are done (runs that start
meanwhile wait the few moments the prune takes). Waiting was chosen over a lock-free prune
because only a lock makes "never mid-use" true rather than merely unlikely: with mtimes alone, a
blob checked a moment before the prune looked at it could still disappear before it is linked.

There is one wait loop (``_attempts``); ``wait_hold`` drives it with ``time.sleep`` (the
commands that prune or verify) and ``wait_hold_async`` with ``anyio.sleep`` (runs), and both take
the clock and the sleep as arguments, so a test of a long wait takes no time.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path

import anyio

log = logging.getLogger(__name__)

OnWait = Callable[[int | None], None]
"""Told once, the first time the lock is busy, how many processes are in the way (if known)."""


class CacheHold:
    """A held cache lock, released by ``release()``, when garbage collected, or at exit.

    ``before_release`` hooks run just before the lock is let go, still under it: a run writes
    what it learnt into the index there, where a prune cannot be running.
    """

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._hooks: list[Callable[[], None]] = []
        self._finalizer = weakref.finalize(self, _release, fd, self._hooks)

    @property
    def held(self) -> bool:
        return self._fd is not None and self._finalizer.alive

    def before_release(self, hook: Callable[[], None]) -> None:
        self._hooks.append(hook)

    def release(self) -> None:
        self._finalizer()

    def __enter__(self) -> CacheHold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _release(fd: int | None, hooks: list[Callable[[], None]]) -> None:
    try:
        for hook in hooks:
            hook()
    finally:
        if fd is not None:
            os.close(fd)


class CacheLock:
    """The ``lock`` file of one cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "lock"

    def try_hold(self, *, exclusive: bool = False) -> CacheHold | None:
        """Take the lock without waiting; ``None`` while another process holds it against us.

        A cache where no lock can be taken (a read-only folder, a file system without ``flock``)
        gets a hold that guards nothing rather than an error: such a cache can hardly be pruned
        under a running session either.
        """
        try:
            import fcntl
        except ImportError:
            return CacheHold(None)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                log.debug("no cache lock at %s: %s", self.path, exc)
                return CacheHold(None)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError as exc:
            os.close(fd)
            log.debug("cannot lock %s: %s", self.path, exc)
            return CacheHold(None)
        return CacheHold(fd)

    def holders(self) -> int | None:
        """Other processes holding the lock, from Linux's ``/proc/locks``; None if unknown."""
        try:
            st = self.path.stat()
            table = Path("/proc/locks").read_text()
        except OSError:
            return None
        where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        pids = set()
        for line in table.splitlines():
            fields = line.split()
            if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK" or fields[5] != where:
                continue
            pids.add(fields[4])
        pids.discard(str(os.getpid()))
        return len(pids) or None

    def wait_hold(
        self,
        *,
        exclusive: bool,
        timeout: float,
        on_wait: OnWait | None = None,
        poll: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> CacheHold | None:
        """``try_hold`` until it succeeds or ``timeout`` seconds pass (then ``None``)."""
        attempts = self._attempts(exclusive, timeout, on_wait, poll, clock)
        try:
            while True:
                sleep(next(attempts))
        except StopIteration as done:
            result: CacheHold | None = done.value
            return result

    async def wait_hold_async(
        self,
        *,
        exclusive: bool,
        timeout: float,
        on_wait: OnWait | None = None,
        poll: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> CacheHold | None:
        """``wait_hold`` for a run: the same loop, waiting without blocking the event loop."""
        attempts = self._attempts(exclusive, timeout, on_wait, poll, clock)
        try:
            while True:
                await sleep(next(attempts))
        except StopIteration as done:
            result: CacheHold | None = done.value
            return result

    def _attempts(
        self,
        exclusive: bool,
        timeout: float,
        on_wait: OnWait | None,
        poll: float,
        clock: Callable[[], float],
    ) -> Generator[float, None, CacheHold | None]:
        """The wait loop: yields how long to sleep before the next try; returns the hold or None."""
        deadline = clock() + timeout
        told = False
        while True:
            hold = self.try_hold(exclusive=exclusive)
            if hold is not None:
                return hold
            if not told and on_wait is not None:
                on_wait(self.holders())
            told = True
            if clock() >= deadline:
                return None
            yield poll
