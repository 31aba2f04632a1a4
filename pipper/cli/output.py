"""What commands print: one-line messages on stderr, JSON on stdout, sizes and run summaries.

Progress and messages never go to stdout, which ``--json`` (and ``lock -o -``) own. The global
options (``-q``, ``-v``, ``--debug``, ``--color``, ``--no-progress``) set the state kept here,
wherever on the command line they were given; ``reset`` starts each command from the defaults.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from pipper.settings import Settings

if TYPE_CHECKING:
    from pipper.models import RunResult

__all__ = [
    "err",
    "error",
    "human_size",
    "info",
    "is_debug",
    "plural",
    "print_json",
    "progress_wanted",
    "reset",
    "result_json",
    "set_global",
    "summary",
    "use_color",
]

_STYLES = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m"}
_RESET = "\x1b[0m"


@dataclass
class _State:
    quiet: bool = False
    verbosity: int = 0
    debug: bool = False
    color: str = "auto"
    progress: bool = True


_state = _State()


def reset() -> None:
    """Back to the defaults: one process may run many commands (the tests do)."""
    global _state
    _state = _State()
    _apply_logging()


def set_global(name: str, value: Any) -> None:
    """Record one global option as given (``-v`` counts add up: ``pipper -v list -v``)."""
    if name == "verbosity":
        _state.verbosity += int(value)
    elif value is not None:
        setattr(_state, name, value)
    _apply_logging()


def err(message: str) -> None:
    """One line on stderr, every control character in it escaped (nothing when its reader is
    gone: there is no one left to tell).

    Every message and log record goes out through here, and many quote keys, names or file
    names from a bucket or a file someone else wrote: escaping here covers all of them.
    """
    from pipper.keys import printable

    _write(printable(message, multiline=True))


def error(message: str, level: str = "error") -> None:
    """``error: message`` (or ``warning:``), the prefix colored when color is on; the message
    escaped as ``err`` escapes it, the color codes pipper's own."""
    from pipper.keys import printable

    prefix = f"{level}:"
    if use_color(sys.stderr) and level in _STYLES:
        prefix = f"{_STYLES[level]}{prefix}{_RESET}"
    _write(f"{prefix} {printable(message, multiline=True)}")


def _write(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except BrokenPipeError:
        pass


def info(message: str) -> None:
    """A line the user wants unless ``-q``."""
    if not _state.quiet:
        err(message)


def is_debug() -> bool:
    return _state.debug


def use_color(stream: TextIO) -> bool:
    """``--color``, else ``NO_COLOR`` / ``FORCE_COLOR``, else whether ``stream`` is a terminal."""
    if _state.color != "auto":
        return _state.color == "always"
    settings = Settings()
    if settings.no_color:
        return False
    if settings.force_color:
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def progress_wanted() -> bool:
    """No ``--no-progress``, no ``PIPPER_NO_PROGRESS``."""
    return _state.progress and not Settings().no_progress


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        error(record.getMessage(), record.levelname.lower())


def _apply_logging() -> None:
    """Route pipper's log records to stderr as ``level: message`` lines, at the chosen level:
    errors only with ``-q``, warnings by default, what pipper does with ``-v``, debug detail
    with ``-vv`` or ``--debug`` (which also shows tracebacks)."""
    if _state.debug or _state.verbosity >= 2:
        level = logging.DEBUG
    elif _state.verbosity == 1:
        level = logging.INFO
    else:
        level = logging.ERROR if _state.quiet else logging.WARNING
    logger = logging.getLogger("pipper")
    logger.handlers[:] = [_StderrHandler()]
    logger.setLevel(level)
    logger.propagate = False


def plural(count: int, word: str) -> str:
    """``1 package``, ``3 packages``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


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
    """``Downloaded 12 packages from s3://b/pipper into ./vendor (3 from cache, ...) in 0.41s``."""
    cached = len(result.packages) - result.from_network
    retries = f", {result.retries} retried transfers" if result.retries else ""
    source = f" from {result.source}" if result.source else ""
    public = ""
    if result.public:
        fetched = sum(1 for p in result.public.values() if p.source == "network")
        public = f"; {len(result.public)} public wheels ({fetched} fetched)"
    return (
        f"{verb} {len(result.packages)} packages{source}{where} "
        f"({cached} from cache, {result.from_network} fetched, "
        f"{human_size(result.bytes_fetched)}{retries}{public}) in {result.timings['total']:.2f}s"
    )
