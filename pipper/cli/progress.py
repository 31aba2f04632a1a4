"""The terminal progress display: packages resolved, bytes fetched, cache or network.

Drawn on stderr with Rich, and only when stderr is a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from pipper.models import Progress


class TerminalProgress(Progress):
    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            SpinnerColumn,
            TextColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        self._bar: Any = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[counts]}"),
            DownloadColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._label = label
        self._cache = 0
        self._network = 0
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
        self._bar.stop()

    def _counts(self) -> str:
        return f"{self._cache + self._network} packages ({self._cache} cached)"

    def package(self, candidate: Any, source: str) -> None:
        if source == "cache":
            self._cache += 1
        else:
            self._network += 1
        label = f"{self._label} {candidate}"
        self._bar.update(self._task, counts=self._counts(), description=label)

    def bytes(self, count: int) -> None:
        self._bar.advance(self._task, count)

    def total(self, packages: int) -> None:
        self._bar.update(self._task, description=f"{self._label} ({packages} resolved)")


class _Silent(Progress):
    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def progress_for(label: str, *, enabled: bool = True) -> TerminalProgress | _Silent:
    if enabled and sys.stderr.isatty():
        return TerminalProgress(label)
    return _Silent()
