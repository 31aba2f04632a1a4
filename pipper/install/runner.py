"""The one pip (or uv) call that carries out a plan, its output, and why it failed.

The original ran one pip process per package, dependencies last, so a wheel whose
``install_requires`` named another private package failed. Here the whole graph is resolved and
in the cache first, and a single installer process receives every private wheel as a *file path*:
pip never looks a private package up on an index, so a public package of the same name cannot take
its place (dependency confusion). A constraints file pins every private package of the graph to
the version pipper chose, so even a wheel whose metadata asks for another version of one cannot
send pip to an index for it. The public wheels pip chose earlier (:mod:`pipper.public`) are files
from the cache too, so the call uses no index at all (``files_only``); only ``--private-only``
hands ``pypi`` requirements to the installer as they are, with the index configured.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipper.bundle import extract_wheel
from pipper.errors import InstallError, PipperError, UsageError
from pipper.fsutil import atomic_link_or_copy
from pipper.install.environment import interpreter_has_pip
from pipper.install.plan import Installer, Step
from pipper.install.target import prune_target
from pipper.keys import mask_url

if TYPE_CHECKING:
    from pipper.cache import ExtractedWheels

__all__ = [
    "InstallOptions",
    "Outcome",
    "apply",
    "failure_reason",
    "find_uv",
    "install",
    "installer_command",
    "pip_runner",
    "place_wheels",
    "resolver_pip",
    "run_process",
]

log = logging.getLogger(__name__)

_OUTPUT_TAIL = 200
_SUMMARY_LIMIT = 300
_NOT_FOUND = ("No matching distribution", "not found in the provided package locations")
_PARALLEL_FROM = 8
"""Fewer wheels than this are placed one after the other; more by ``_PLACERS`` threads (the
copies and file creations mostly wait on the kernel, with the GIL released)."""
_PLACERS = 4


def find_uv() -> Path:
    """uv on PATH, else beside the running interpreter (a venv's bin/ is often not on PATH)."""
    found = shutil.which("uv")
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    raise UsageError("--installer uv: uv is not on PATH; install it (pip install uv) or use pip")


def pip_runner(python: Path | None) -> list[str]:
    """``PY -m pip``, or pipper's own pip aimed at ``PY`` when that environment has no pip
    (as in virtual environments uv creates)."""
    if python is None:
        if importlib.util.find_spec("pip") is None:
            raise UsageError(f"{sys.executable} has no pip; install pip or use --installer uv")
        return [sys.executable, "-m", "pip"]
    if interpreter_has_pip(python):
        return [str(python), "-m", "pip"]
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", "--python", str(python)]
    raise UsageError(f"{python} has no pip and neither has pipper's own Python; use --installer uv")


def resolver_pip(python: Path | None) -> list[str]:
    """The pip that resolves and fetches public wheels for ``python``: pipper's own, a known
    one, aimed at it with ``--python`` (pip 22.3 and later), so an old pip in the target
    environment (``--report`` is pip 22.2's) cannot get in the way; else the target's own."""
    import importlib.metadata

    from packaging.version import Version

    try:
        own: Version | None = Version(importlib.metadata.version("pip"))
    except (importlib.metadata.PackageNotFoundError, ValueError):
        own = None
    if own is not None and python is None:
        return [sys.executable, "-m", "pip"]
    if own is not None and own >= Version("22.3"):
        return [sys.executable, "-m", "pip", "--python", str(python)]
    return pip_runner(python)


@dataclass(frozen=True)
class InstallOptions:
    """Where the one installer call installs and how: everything but the wheels and requirements.

    The combinations no installer can carry out are refused when the options are made, so a
    command learns of them before it resolves anything.
    """

    python: Path | None = None
    """The target interpreter; ``None`` is the running one."""
    target: Path | None = None
    user: bool = False
    installer: Installer = "pip"
    upgrade: bool = False
    index_url: str | None = None
    find_links: Sequence[str] = ()
    stream: bool = False
    """Show the installer's output as it runs, not only when it fails."""
    echo: Callable[[str], None] | None = None
    """Where the installer's output goes (stderr by default)."""

    def __post_init__(self) -> None:
        if self.user and self.target is not None:
            raise UsageError("--user and --target cannot be combined")
        if self.user and self.installer == "uv":
            raise UsageError("uv has no --user installs; use --installer pip")


def installer_command(
    wheels: Sequence[Path],
    requirements: Sequence[str],
    options: InstallOptions,
    *,
    runner: Sequence[str],
    constraints: Path | None = None,
    files_only: bool = False,
) -> list[str]:
    """The argument list of the one installer process.

    The index stays off unless there are ``pypi`` requirements or an index was named, so private
    wheels never meet a public index by accident; with ``files_only`` (every wheel of the graph
    is a file) it is off whatever was named. pip is always told ``--upgrade`` with ``--target``:
    without it pip leaves an existing package folder there as it was.
    """
    python = options.python or Path(sys.executable)
    if options.installer == "uv":
        cmd = [*runner, "pip", "install", "--python", str(python)]
    else:
        cmd = [*runner, "install", "--disable-pip-version-check", "--no-input"]
        cmd += ["--progress-bar", "off"]
    if files_only or (not requirements and options.index_url is None):
        cmd.append("--no-index")
    if not files_only:
        if options.index_url is not None:
            cmd += ["--index-url", options.index_url]
        for link in options.find_links:
            cmd += ["--find-links", link]
    if constraints is not None:
        cmd += ["--constraint", str(constraints)]
    if options.upgrade or (options.target is not None and options.installer == "pip"):
        cmd.append("--upgrade")
    if options.target is not None:
        cmd += ["--target", str(options.target)]
    if options.user:
        cmd.append("--user")
    cmd += [str(w) for w in wheels]
    cmd += list(requirements)
    return cmd


def install(
    wheels: Sequence[Path],
    requirements: Sequence[str],
    options: InstallOptions | None = None,
    *,
    pins: Sequence[str] = (),
    files_only: bool = False,
) -> None:
    """Run ONE pip (or uv) process that installs ``wheels`` (files) and ``requirements``.

    ``pins`` (``name==version``) go into a constraints file; ``files_only``: no index at all.
    The installer's output goes to ``options.echo`` as it runs when ``options.stream``, else
    only when it fails; a failure raises ``InstallError`` naming the installer's exit code and
    its most telling line.
    """
    options = options or InstallOptions()
    runner = [str(find_uv())] if options.installer == "uv" else pip_runner(options.python)
    say = options.echo or _stderr
    with tempfile.TemporaryDirectory(prefix="pipper-install-") as tmp:
        constraints = None
        if pins:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        cmd = installer_command(
            wheels,
            requirements,
            options,
            runner=runner,
            constraints=constraints,
            files_only=files_only,
        )
        log.debug("running %s", " ".join(map(mask_url, cmd)))  # an --index-url may hold a password
        code, output = run_process(cmd, say if options.stream else None)
    if code != 0:
        if not options.stream:
            for line in output:
                say(line)
        what = "uv pip install" if options.installer == "uv" else "pip install"
        reason = failure_reason(output, options.installer)
        if files_only and any(mark in reason for mark in _NOT_FOUND):
            reason += (
                " (every wheel of the graph was passed as a file, with no index: a requirement "
                "pipper does not follow, such as an extra of a private package, is missing)"
            )
        elif "--no-index" in cmd and any(mark in reason for mark in _NOT_FOUND):
            reason += (
                " (no index was used with --private-only: list public requirements under 'pypi' "
                "in the input file, or pass --index-url)"
            )
        raise InstallError(f"{what} failed with exit code {code}: {reason}", code)


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run_process(cmd: Sequence[str], echo: Callable[[str], None] | None) -> tuple[int, list[str]]:
    tail: deque[str] = deque(maxlen=_OUTPUT_TAIL)
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise UsageError(f"could not start {cmd[0]}: {exc.strerror or exc}") from None
    assert proc.stdout is not None
    with proc:
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            if echo is not None:
                echo(line)
    return proc.returncode, list(tail)


def failure_reason(output: Sequence[str], installer: Installer) -> str:
    """pip's last ``ERROR:`` line, uv's ``error:`` line with its first cause, else the last line."""
    lines = [line.strip() for line in output if line.strip()]
    pick = ""
    if installer == "uv":
        for index, line in enumerate(lines):
            if line.lower().startswith("error:"):
                pick = line[len("error:") :].strip()
                following = lines[index + 1] if index + 1 < len(lines) else ""
                if following.lower().startswith(("cause:", "caused by:")):
                    pick = f"{pick.rstrip(':')}: {following.split(':', 1)[1].strip()}"
                break
    else:
        marked = [line for line in lines if line.startswith("ERROR:")]
        pick = marked[-1][len("ERROR:") :].strip() if marked else ""
    if not pick:
        pick = lines[-1] if lines else "no output"
    if len(pick) > _SUMMARY_LIMIT:
        pick = pick[: _SUMMARY_LIMIT - 3] + "..."
    return pick


@dataclass
class Outcome:
    """What ``apply`` did: the steps that changed something, those kept, and the time taken."""

    changed: list[Step] = field(default_factory=list)
    kept: list[Step] = field(default_factory=list)
    requirements: tuple[str, ...] = ()
    ran: bool = False
    seconds: float = 0.0


def apply(
    steps: Sequence[Step],
    requirements: Sequence[str],
    options: InstallOptions | None = None,
    *,
    public: Sequence[Step] | None = None,
    extracted: ExtractedWheels | None = None,
) -> Outcome:
    """Carry out a plan: one installer call with the wheels of the steps that change, then
    (pip with ``--target``) remove what the replaced versions left behind.

    The wheels come from ``extracted`` (the cache's extracted wheels, at paths that stay the
    same from run to run, so uv's own cache of unpacked wheels works), else from a temporary
    folder. ``public`` are the public wheels' steps when pipper resolved them (``None`` with
    ``--private-only``): then every wheel is a file and the installer uses no index.
    """
    options = options or InstallOptions()
    target, pip = options.target, options.installer == "pip"
    started = time.perf_counter()
    private = list(steps)
    steps = [*private, *(public or ())]
    changed = [s for s in steps if s.action != "keep"]
    kept = [s for s in steps if s.action == "keep"]
    passed = changed + kept if changed and target is not None and pip else list(changed)
    outcome = Outcome(changed=changed, kept=kept, requirements=tuple(requirements))
    if not passed and not requirements:
        outcome.seconds = time.perf_counter() - started
        return outcome
    with tempfile.TemporaryDirectory(prefix="pipper-wheels-") as tmp:
        wheels = place_wheels(passed, extracted, Path(tmp))
        if target is not None:
            target.mkdir(parents=True, exist_ok=True)
        install(
            wheels,
            requirements,
            options,
            pins=[f"{s.name}=={s.version}" for s in private],
            files_only=public is not None,
        )
    outcome.ran = True
    if target is not None and pip:
        prune_target(target, {s.project: s.version for s in changed})
    outcome.seconds = time.perf_counter() - started
    return outcome


def place_wheels(steps: Sequence[Step], extracted: ExtractedWheels | None, tmp: Path) -> list[Path]:
    """The wheel file of every step, in order: from ``extracted`` where the cache can hold it
    (extracting what it lacks, several at once), else written into ``tmp``."""
    for step in steps:
        if step.package.path is None:
            raise PipperError(f"{step.name} {step.version} has no wheel in the cache")
    if len(steps) < _PARALLEL_FROM:
        return [_place(step, extracted, tmp) for step in steps]
    with ThreadPoolExecutor(_PLACERS, thread_name_prefix="pipper-wheels") as pool:
        return list(pool.map(lambda step: _place(step, extracted, tmp), steps))


def _place(step: Step, extracted: ExtractedWheels | None, tmp: Path) -> Path:
    from pipper.models import Package

    package = step.package
    assert package.path is not None
    if isinstance(package, Package) and package.wheel is not None:
        return package.wheel  # extracted into the cache while the run went on
    if extracted is not None:
        try:
            if isinstance(package, Package) and package.meta is not None:
                return extracted.from_bundle(package.digest, package.path, package.meta.wheel_name)
            if not isinstance(package, Package):
                return extracted.from_wheel(package.sha256, package.path, package.filename)
        except OSError as exc:  # a read-only or full cache: the installer still gets its wheel
            log.debug("could not keep the wheel of %s in the cache: %s", step.name, exc)
    if isinstance(package, Package):
        return extract_wheel(package.path, tmp)
    wheel = tmp / package.filename  # a public wheel: its blob, under the name pip needs
    atomic_link_or_copy(package.path, wheel)
    return wheel
