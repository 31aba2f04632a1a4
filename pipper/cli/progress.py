"""Progress on stderr: a live line on a terminal, one plain line per phase in a log.

On a terminal (Rich, drawn only there): the packages done of the total known so far, the bytes
fetched of the bytes known to fetch, and the transfer rate. The totals grow while the graph is
walked (``Progress.queued``) and a package served from the cache leaves the byte total, so the
bar measures what really crosses the network. Off a terminal (a CI log, a pipe) nothing is
redrawn: a phase says once what it resolved (and how much is still coming), so a log shows
where a long run is without a line per package, and a run that fails early shows only its one
``error:`` line. ``--no-progress`` / ``PIPPER_NO_PROGRESS`` turn both off.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from pipper.cli.output import human_size, info, plural, progress_wanted, use_color
from pipper.models import Candidate, Progress

__all__ = ["PlainProgress", "TerminalProgress", "progress_for"]


class _Counts(Progress):
    """What both displays count: packages known and done, bytes known and fetched."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.known = 0
        self.done = 0
        self.cached = 0
        self.bytes_known = 0
        self.bytes_done = 0

    def queued(self, candidate: Candidate) -> None:
        self.known += 1
        self.bytes_known += candidate.size

    def package(self, candidate: Candidate, source: str) -> None:
        self.done += 1
        if source != "network":
            self.cached += 1
            self.bytes_known = max(self.bytes_known - candidate.size, self.bytes_done)

    def bytes(self, count: int) -> None:
        self.bytes_done += count
        self.bytes_known = max(self.bytes_known, self.bytes_done)

    def total(self, packages: int) -> None:
        self.known = max(packages, self.done)


class TerminalProgress(_Counts):
    def __init__(self, label: str) -> None:
        super().__init__(label)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            SpinnerColumn,
            TextColumn,
            TransferSpeedColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        color = use_color(sys.stderr)
        self._bar: Any = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[counts]}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True, no_color=not color, highlight=False),
            transient=True,
        )
        self._task = self._bar.add_task(label, total=None, counts="", completed=0)

    def __enter__(self) -> TerminalProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()  # also when a signal unwinds the run: the cursor comes back

    def _redraw(self, description: str | None = None) -> None:
        counts = f"{self.done}/{self.known} packages ({self.cached} cached)"
        fields: dict[str, Any] = {"counts": counts, "total": self.bytes_known or None}
        if description is not None:
            fields["description"] = description
        self._bar.update(self._task, completed=self.bytes_done, **fields)

    def queued(self, candidate: Candidate) -> None:
        super().queued(candidate)
        self._redraw()

    def package(self, candidate: Candidate, source: str) -> None:
        super().package(candidate, source)
        self._redraw(f"{self.label} {candidate}")

    def bytes(self, count: int) -> None:
        super().bytes(count)
        self._redraw()

    def total(self, packages: int) -> None:
        super().total(packages)
        self._redraw()


class PlainProgress(_Counts):
    """One line when the phase's graph is resolved, for logs."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self._started = time.perf_counter()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def total(self, packages: int) -> None:
        super().total(packages)
        seconds = time.perf_counter() - self._started
        waiting = self.known - self.done
        fetch = f", {waiting} still coming ({human_size(self.bytes_known - self.bytes_done)})"
        info(
            f"{self.label}: resolved {plural(packages, 'package')} in {seconds:.2f}s"
            + (fetch if waiting > 0 else "")
        )


class _Silent(Progress):
    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def progress_for(label: str, *, enabled: bool = True) -> TerminalProgress | PlainProgress | _Silent:
    """The display for one phase: live on a terminal, plain lines in a log, or none."""
    if not enabled or not progress_wanted():
        return _Silent()
    isatty = getattr(sys.stderr, "isatty", None)
    if isatty is not None and isatty():
        return TerminalProgress(label)
    return PlainProgress(label)
