"""Building a project's wheel with pip, and bundling it with its ``pipper.json``.

pip writes into a fresh temporary directory so a stale wheel of an older version can never be
mistaken for the one just built; a failed build is a ``BuildError`` whose message starts at the
cause (the build backend's own last lines), not in the middle of pip's traceback.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipper.bundle import CHUNK_BYTES, MAX_META_BYTES, write_bundle
from pipper.errors import BuildError, UsageError
from pipper.fsutil import atomic_writer, read_small_file
from pipper.jsonio import JsonError, parse_json

__all__ = ["build_failure_lines", "build_wheel", "bundle_project"]

log = logging.getLogger(__name__)

_BUILD_FAILURE_LINES = 5
_QUOTE_START = re.compile(r"\[\d+ lines? of output\]\s*$")
_QUOTE_END = "[end of output]"
# Errors zipfile raises on malformed archives besides BadZipFile (truncated central
# directories, unsupported or encrypted entries, corrupt deflate streams).


def build_wheel(
    project_dir: Path, out_dir: Path, *, isolation: bool = True, python: Path | None = None
) -> Path:
    """Build the project's wheel with pip (that of ``python``, else pipper's own interpreter),
    and move it into ``out_dir``: a project with compiled code gets the tags of the interpreter
    that built it.

    pip writes into a fresh temporary directory so a stale wheel of an older version (in the
    project's ``dist/`` or in ``out_dir``) can never be mistaken for the one just built.
    """
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise UsageError(f"{project_dir} is not a directory")
    if not (project_dir / "pyproject.toml").is_file() and not (project_dir / "setup.py").is_file():
        raise UsageError(f"{project_dir} has neither a pyproject.toml nor a setup.py")
    with tempfile.TemporaryDirectory(prefix="pipper-wheel-") as tmp:
        cmd = [
            str(python or sys.executable),
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-input",
            "--disable-pip-version-check",
            "-w",
            tmp,
        ]
        if not isolation:
            cmd.append("--no-build-isolation")
        # An absolute path, so pip never reads a bare directory name as a requirement.
        cmd.append(str(project_dir.resolve()))
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            check=False,
        )
        if proc.returncode != 0:
            log.debug("pip wheel said:\n%s", proc.stdout)
            said = "\n".join(f"  {line}" for line in build_failure_lines(proc.stdout))
            raise BuildError(
                f"building a wheel of {project_dir} failed (pip exited with code "
                f"{proc.returncode}):\n{said}"
            )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            found = ", ".join(w.name for w in wheels) or "none"
            raise BuildError(
                f"building {project_dir} should give exactly one wheel, pip gave {found}"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        return _move_into(wheels[0], out_dir)


def build_failure_lines(output: str, limit: int = _BUILD_FAILURE_LINES) -> list[str]:
    """The last lines of a failed build that say why, for a message that starts at the cause.

    pip quotes the build backend's output between ``[N lines of output]`` and ``[end of
    output]`` and follows it with its own notes ("See above for output"); the quote is used when
    there is one. Traceback frames (``File "..."`` and the source lines under them), the
    ``Traceback`` header and blank lines are left out: the exception's own line is what tells.
    """
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if _QUOTE_START.search(line)]
    quoted: list[str] = []
    if starts:
        rest = lines[starts[-1] + 1 :]
        end = next((i for i, line in enumerate(rest) if line.strip() == _QUOTE_END), len(rest))
        quoted = rest[:end]
    return (_without_frames(quoted) or _without_frames(lines) or ["(no output)"])[-limit:]


def _without_frames(lines: list[str]) -> list[str]:
    kept: list[str] = []
    frame_indent: int | None = None
    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if frame_indent is not None and text and indent > frame_indent:
            continue  # the source line (and its ^^^ markers) a frame shows
        frame_indent = None
        if text.startswith('File "'):
            frame_indent = indent
        elif text and not text.startswith("Traceback (most recent call last)"):
            kept.append(text)
    return kept


def bundle_project(
    project_dir: Path, out_dir: Path, *, isolation: bool = True, python: Path | None = None
) -> Path:
    """Build the project's wheel and bundle it with its ``pipper.json``; warn where the two
    name different private dependencies."""
    from pipper.bundle import read_bundle
    from pipper.requirements import declaration_warnings

    project_dir = Path(project_dir)
    extra = _read_pipper_json(project_dir / "pipper.json")
    with tempfile.TemporaryDirectory(prefix="pipper-bundle-") as tmp:
        wheel = build_wheel(project_dir, Path(tmp), isolation=isolation, python=python)
        bundle = write_bundle(wheel, out_dir, extra)
    for warning in declaration_warnings(extra, read_bundle(bundle).requires_dist or ()):
        log.warning("%s: %s", project_dir, warning)
    return bundle


def bundle_wheels(wheels: Sequence[Path], out_dir: Path, pipper_json: Path | None) -> list[Path]:
    """Bundle prebuilt wheels (cibuildwheel's output), one bundle per wheel, each with the
    project's ``pipper.json``; a wheel given twice under two paths is refused."""
    extra = _read_pipper_json(pipper_json) if pipper_json is not None else {}
    names: dict[str, Path] = {}
    for wheel in wheels:
        if wheel.name in names:
            raise UsageError(f"{wheel} and {names[wheel.name]} are the same wheel; give it once")
        names[wheel.name] = wheel
    return [write_bundle(wheel, out_dir, extra) for wheel in wheels]


def _read_pipper_json(path: Path) -> dict[str, Any]:
    """The project's ``pipper.json``, which goes into the meta whole: bounded like a meta."""
    if not path.is_file():
        return {}
    try:
        data = parse_json(read_small_file(path, MAX_META_BYTES, "pipper.json"))
    except JsonError as exc:
        raise UsageError(exc.at(path)) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def _move_into(src: Path, out_dir: Path) -> Path:
    """Move ``src`` into ``out_dir`` so the name appears only once the bytes are complete."""
    dest = out_dir / src.name
    try:
        os.replace(src, dest)
        return dest
    except OSError:
        pass  # another filesystem: copy beside the destination, then rename
    with atomic_writer(dest, fsync=False, mode=0o644) as handle, src.open("rb") as inp:
        shutil.copyfileobj(inp, handle, CHUNK_BYTES)
    return dest
