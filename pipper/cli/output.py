"""What commands print: one-line messages on stderr, JSON on stdout, sizes and run summaries.

Progress and messages never go to stdout, which ``--json`` (and ``lock -o -``) own.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipper.models import RunResult

__all__ = [
    "configure",
    "err",
    "human_size",
    "info",
    "is_debug",
    "print_json",
    "result_json",
    "summary",
]

_state = {"debug": False, "quiet": False}


def err(message: str) -> None:
    """One line on stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def info(message: str) -> None:
    """A line the user wants unless ``-q``."""
    if not _state["quiet"]:
        err(message)


def is_debug() -> bool:
    return _state["debug"]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        err(f"{record.levelname.lower()}: {record.getMessage()}")


def configure(debug: bool, quiet: bool) -> None:
    """Route pipper's log records to stderr as ``level: message`` lines."""
    _state["debug"] = debug
    _state["quiet"] = quiet
    logger = logging.getLogger("pipper")
    logger.handlers[:] = [_StderrHandler()]
    logger.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING)
    logger.propagate = False


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def result_json(result: RunResult, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved graph and timings, as ``--json`` prints them."""
    packages = [
        {
            "name": p.candidate.name,
            "version": p.candidate.version,
            "key": p.candidate.key,
            "sha256": p.digest,
            "size": p.candidate.size,
            "source": p.source,
            "dependencies": list(p.dependencies),
            "required_by": [r for r in p.required_by if r is not None],
            "file": p.filename,
        }
        for p in result.packages.values()
    ]
    public = [
        {
            "name": p.name,
            "version": p.version,
            "file": p.filename,
            "sha256": p.sha256,
            "url": p.url,
            "source": p.source,
            "dependencies": list(p.dependencies),
            "required_by": [r for r in p.required_by if r is not None],
        }
        for p in result.public.values()
    ]
    return {
        "packages": packages,
        "public": public,
        "depth": result.depth,
        "rounds": result.rounds,
        "requests": result.requests,
        "listings": result.listings,
        "retries": result.retries,
        "bytes_fetched": result.bytes_fetched,
        "timings": result.timings,
        **(extra or {}),
    }


def summary(result: RunResult, verb: str, where: str = "") -> str:
    """``Downloaded 12 packages into ./vendor (3 from cache, 9 fetched, 1.2 MB) in 0.41s``."""
    cached = len(result.packages) - result.from_network
    retries = f", {result.retries} retried transfers" if result.retries else ""
    public = ""
    if result.public:
        fetched = sum(1 for p in result.public.values() if p.source == "network")
        public = f"; {len(result.public)} public wheels ({fetched} fetched)"
    return (
        f"{verb} {len(result.packages)} packages{where} "
        f"({cached} from cache, {result.from_network} fetched, "
        f"{human_size(result.bytes_fetched)}{retries}{public}) in {result.timings['total']:.2f}s"
    )
