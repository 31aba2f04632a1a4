"""What an environment already has, what to change in it, and the one pip or uv call that does it.

The original ran one pip process per package, dependencies last, so a wheel whose
``install_requires`` named another private package failed. Here the whole graph is resolved and
in the cache first, and a single installer process receives every private wheel as a *file path*:
pip never looks a private package up on an index, so a public package of the same name cannot take
its place (dependency confusion). A constraints file pins every private package of the graph to
the version pipper chose, so even a wheel whose metadata asks for another version of one cannot
send pip to an index for it. Without ``pypi`` requirements the call uses no index at all.

What is installed is read from the environment the install goes to (a ``--target`` folder, another
interpreter, or the running one), never from pipper's own when another is targeted.

Vendored bundles (a folder ``pipper download -d`` filled, or single ``.pipper`` files) are a
package source of their own here: ``LocalBundles`` lists them and ``resolve_local`` walks them
with the same resolver, going to the repository only for what the folder does not hold.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from pipper.bundle import extract_wheel, read_bundle
from pipper.errors import (
    InstallError,
    UsageError,
)
from pipper.keys import BUNDLE_SUFFIX, mask_url, parse_safe_version, safe_version
from pipper.models import Candidate, Package
from pipper.specs import PackageId
from pipper.versions import NAME_PATTERN, normalize_name

__all__ = [
    "Action",
    "Installer",
    "LocalBundles",
    "Outcome",
    "Step",
    "apply",
    "find_uv",
    "inspect_environment",
    "install",
    "installer_command",
    "needs_kept_wheels",
    "plan",
    "prune_target",
    "target_python",
]

log = logging.getLogger(__name__)

Installer = Literal["pip", "uv"]
Action = Literal["install", "upgrade", "downgrade", "keep"]

_OUTPUT_TAIL = 200
_SUMMARY_LIMIT = 300
_PROBE_TIMEOUT = 120
_NOT_FOUND = ("No matching distribution", "not found in the provided package locations")

# Printed by the interpreter being inspected: it may be any Python 3.8+, so standard library only.
# The working directory is not part of an environment: a project's own *.egg-info lying there
# must not count as installed (``-c`` puts "" first on sys.path).
_PROBE = """\
import sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
import importlib.metadata as m, importlib.util as u, json
found = {}
for d in m.distributions():
    name = d.metadata["Name"]
    if name and name not in found:
        found[name] = d.version
print(json.dumps({"packages": found, "pip": u.find_spec("pip") is not None}))
"""


# -- the environment ----------------------------------------------------------------------------


def target_python(python: Path | None) -> Path | None:
    """The interpreter an install goes to; ``None`` means the running one.

    ``--python`` may name an interpreter (a path, or a command on PATH such as ``python3.12``)
    or a virtual environment's folder. Without it, an activated virtual environment other than
    pipper's own wins, as it does for uv: a pipper installed with pipx then installs into the
    project's environment, not into its own.
    """
    if python is None:
        active = os.environ.get("VIRTUAL_ENV", "").strip()
        if not active or _same_path(Path(active), Path(sys.prefix)):
            return None
        found = _venv_interpreter(Path(active))
        if found is None:
            log.warning("VIRTUAL_ENV=%s holds no interpreter; using pipper's own", active)
        return found
    path = Path(os.path.abspath(python.expanduser()))
    if not path.exists() and len(python.parts) == 1:
        on_path = shutil.which(str(python))
        if on_path:
            path = Path(on_path)
    if path.is_dir():
        found = _venv_interpreter(path)
        if found is None:
            raise UsageError(f"--python {python}: the folder holds no bin/python")
        return found
    if not path.is_file() or not os.access(path, os.X_OK):
        raise UsageError(f"--python {python}: no Python interpreter there")
    return path


def _venv_interpreter(folder: Path) -> Path | None:
    for candidate in (folder / "bin" / "python", folder / "Scripts" / "python.exe"):
        if candidate.is_file():
            return candidate
    return None


def _same_path(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def inspect_environment(python: Path | None, target: Path | None) -> dict[str, str]:
    """``{PEP 503 name: version}`` of what the install's destination already holds.

    A ``target`` folder is read on its own (``*.dist-info`` directly inside it), another
    interpreter is asked in a subprocess, and only when neither is given is the running
    interpreter's own environment read.
    """
    if target is not None:
        if not target.exists():
            return {}
        if not target.is_dir():
            raise UsageError(f"--target {target} is not a folder")
        return _versions(
            (d.metadata["Name"], d.version)
            for d in importlib.metadata.distributions(path=[str(target)])
        )
    if python is None:
        paths = [p for p in sys.path if p not in ("", ".", os.getcwd())]
        return _versions(
            (d.metadata["Name"], d.version) for d in importlib.metadata.distributions(path=paths)
        )
    return _versions(_probe(python)[0].items())


def _probe(python: Path) -> tuple[dict[str, str], bool]:
    """The distributions another interpreter sees, and whether it can run pip itself."""
    try:
        proc = subprocess.run(
            [str(python), "-c", _PROBE],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"{python} could not be run as a Python interpreter: {exc}") from None
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    except (ValueError, IndexError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("packages"), dict):
        reason = _last_line(proc.stderr) or f"exit code {proc.returncode}"
        raise UsageError(f"{python} did not answer as a Python 3.8+ interpreter: {reason}")
    return {str(k): str(v) for k, v in data["packages"].items()}, bool(data.get("pip"))


def _versions(found: Iterable[tuple[str | None, str | None]]) -> dict[str, str]:
    """Normalised names; the first of duplicates wins, as it would on ``sys.path``."""
    result: dict[str, str] = {}
    for name, version in found:
        if not name or not version:
            continue
        try:
            Version(version)
        except InvalidVersion:
            log.debug("ignoring installed %s: version %r is not PEP 440", name, version)
            continue
        key = normalize_name(name)
        if key in result:
            if Version(result[key]) != Version(version):
                log.warning(
                    "%s is installed twice (%s and %s); going by %s",
                    name,
                    result[key],
                    version,
                    result[key],
                )
            continue
        result[key] = version
    return result


# -- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """What happens to one package of the graph."""

    package: Package
    action: Action
    installed: str | None

    @property
    def project(self) -> str:
        return self.package.candidate.project

    @property
    def name(self) -> str:
        return self.package.candidate.name

    @property
    def version(self) -> str:
        return self.package.candidate.version

    def describe(self) -> str:
        if self.action in ("upgrade", "downgrade"):
            return f"{self.name} {self.installed} -> {self.version}"
        return f"{self.name} {self.version}"


def plan(packages: Mapping[str, Package], installed: Mapping[str, str]) -> list[Step]:
    """Compare the chosen versions with the installed ones: install, upgrade, downgrade or keep."""
    steps: list[Step] = []
    for key, package in packages.items():
        have = installed.get(key)
        chosen = package.candidate.parsed
        action: Action
        if have is None:
            action = "install"
        elif Version(have) == chosen:
            action = "keep"
        elif Version(have) < chosen:
            action = "upgrade"
        else:
            action = "downgrade"
        steps.append(Step(package, action, have))
    return steps


def needs_kept_wheels(steps: Sequence[Step], target: Path | None, installer: Installer) -> bool:
    """pip ignores everything already in a ``--target`` folder, so when anything there changes it
    needs the wheels of the kept packages too, or it would look for them on an index."""
    return (
        target is not None
        and installer == "pip"
        and any(s.action != "keep" for s in steps)
        and any(s.action == "keep" and s.package.path is None for s in steps)
    )


# -- running the installer ----------------------------------------------------------------------


def find_uv() -> Path:
    """uv on PATH, else beside the running interpreter (a venv's bin/ is often not on PATH)."""
    found = shutil.which("uv")
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    raise UsageError("--installer uv: uv is not on PATH; install it (pip install uv) or use pip")


def _pip_runner(python: Path | None) -> list[str]:
    """``PY -m pip``, or pipper's own pip aimed at ``PY`` when that environment has no pip
    (as in virtual environments uv creates)."""
    if python is None:
        if importlib.util.find_spec("pip") is None:
            raise UsageError(f"{sys.executable} has no pip; install pip or use --installer uv")
        return [sys.executable, "-m", "pip"]
    _, has_pip = _probe(python)
    if has_pip:
        return [str(python), "-m", "pip"]
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", "--python", str(python)]
    raise UsageError(f"{python} has no pip and neither has pipper's own Python; use --installer uv")


def installer_command(
    wheels: Sequence[Path],
    requirements: Sequence[str],
    *,
    runner: Sequence[str],
    python: Path,
    installer: Installer,
    target: Path | None = None,
    user: bool = False,
    upgrade: bool = False,
    constraints: Path | None = None,
    index_url: str | None = None,
    find_links: Sequence[str] = (),
) -> list[str]:
    """The argument list of the one installer process.

    The index stays off unless there are ``pypi`` requirements or an index was named, so private
    wheels never meet a public index by accident. pip is always told ``--upgrade`` with
    ``--target``: without it pip leaves an existing package folder there as it was.
    """
    if installer == "uv":
        cmd = [*runner, "pip", "install", "--python", str(python)]
    else:
        cmd = [*runner, "install", "--disable-pip-version-check", "--no-input"]
        cmd += ["--progress-bar", "off"]
    if not requirements and index_url is None:
        cmd.append("--no-index")
    if index_url is not None:
        cmd += ["--index-url", index_url]
    for link in find_links:
        cmd += ["--find-links", link]
    if constraints is not None:
        cmd += ["--constraint", str(constraints)]
    if upgrade or (target is not None and installer == "pip"):
        cmd.append("--upgrade")
    if target is not None:
        cmd += ["--target", str(target)]
    if user:
        cmd.append("--user")
    cmd += [str(w) for w in wheels]
    cmd += list(requirements)
    return cmd


def install(
    wheels: Sequence[Path],
    requirements: Sequence[str],
    *,
    python: Path | None = None,
    target: Path | None = None,
    user: bool = False,
    installer: Installer = "pip",
    upgrade: bool = False,
    pins: Sequence[str] = (),
    index_url: str | None = None,
    find_links: Sequence[str] = (),
    echo: Callable[[str], None] | None = None,
    stream: bool = False,
) -> None:
    """Run ONE pip (or uv) process that installs ``wheels`` (files) and ``requirements``.

    ``pins`` (``name==version``) go into a constraints file. The installer's output goes to
    ``echo`` (stderr by default) as it runs when ``stream``, else only when it fails; a failure
    raises ``InstallError`` with the installer's exit code and its most telling line.
    """
    if user and target is not None:
        raise UsageError("--user and --target cannot be combined")
    if installer == "uv":
        if user:
            raise UsageError("uv has no --user installs; use --installer pip")
        runner = [str(find_uv())]
    else:
        runner = _pip_runner(python)
    say = echo or _stderr
    with tempfile.TemporaryDirectory(prefix="pipper-install-") as tmp:
        constraints = None
        if pins:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        cmd = installer_command(
            wheels,
            requirements,
            runner=runner,
            python=python or Path(sys.executable),
            installer=installer,
            target=target,
            user=user,
            upgrade=upgrade,
            constraints=constraints,
            index_url=index_url,
            find_links=find_links,
        )
        log.debug("running %s", " ".join(map(mask_url, cmd)))  # an --index-url may hold a password
        code, output = _run(cmd, say if stream else None)
    if code != 0:
        if not stream:
            for line in output:
                say(line)
        what = "uv pip install" if installer == "uv" else "pip install"
        reason = _reason(output, installer)
        if "--no-index" in cmd and any(mark in reason for mark in _NOT_FOUND):
            reason += (
                " (no index was used: list public requirements under 'pypi' in the input file, "
                "or pass --index-url)"
            )
        raise InstallError(f"{what} failed with exit code {code}: {reason}", exit_code=code)


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _run(cmd: Sequence[str], echo: Callable[[str], None] | None) -> tuple[int, list[str]]:
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


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _reason(output: Sequence[str], installer: Installer) -> str:
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
    *,
    python: Path | None = None,
    target: Path | None = None,
    user: bool = False,
    installer: Installer = "pip",
    upgrade: bool = False,
    index_url: str | None = None,
    find_links: Sequence[str] = (),
    echo: Callable[[str], None] | None = None,
    stream: bool = False,
) -> Outcome:
    """Carry out a plan: extract the wheels that change into a temporary folder, one installer
    call, then (pip with ``--target``) remove what the replaced versions left behind."""
    started = time.perf_counter()
    changed = [s for s in steps if s.action != "keep"]
    kept = [s for s in steps if s.action == "keep"]
    passed = list(changed)
    if changed and target is not None and installer == "pip":
        passed += kept
    outcome = Outcome(changed=changed, kept=kept, requirements=tuple(requirements))
    if not passed and not requirements:
        outcome.seconds = time.perf_counter() - started
        return outcome
    with tempfile.TemporaryDirectory(prefix="pipper-wheels-") as tmp:
        wheels: list[Path] = []
        for step in passed:
            if step.package.path is None:
                raise InstallError(f"{step.name} {step.version} has no bundle in the cache")
            wheels.append(extract_wheel(step.package.path, Path(tmp)))
        pins = [f"{s.name}=={s.version}" for s in steps]
        if target is not None:
            target.mkdir(parents=True, exist_ok=True)
        install(
            wheels,
            requirements,
            python=python,
            target=target,
            user=user,
            installer=installer,
            upgrade=upgrade,
            pins=pins,
            index_url=index_url,
            find_links=find_links,
            echo=echo,
            stream=stream,
        )
    outcome.ran = True
    if target is not None and installer == "pip":
        prune_target(target, {s.project: s.version for s in changed})
    outcome.seconds = time.perf_counter() - started
    return outcome


def prune_target(target: Path, installed: Mapping[str, str]) -> None:
    """Remove what older versions of just-installed packages left in a ``--target`` folder.

    pip replaces a target's top-level folders that the new wheel also has, but keeps the old
    version's ``.dist-info`` (it has another name) and any file only the old version had; two
    versions of one package would then seem installed.
    """
    root = Path(os.path.abspath(target))
    by_project: dict[str, list[tuple[Path, importlib.metadata.PathDistribution]]] = {}
    for info in sorted(root.glob("*.dist-info")):
        dist = importlib.metadata.PathDistribution(info)
        name = dist.metadata["Name"]
        if name and normalize_name(name) in installed:
            by_project.setdefault(normalize_name(name), []).append((info, dist))
    for project, dists in by_project.items():
        wanted = Version(installed[project])
        current = [d for _, d in dists if _version_is(d.version, wanted)]
        if not current:
            continue
        keep = {_file_of(current[0], f) for f in current[0].files or []}
        for info, dist in dists:
            if not _version_is(dist.version, wanted):
                _remove_distribution(info, dist, root, keep)


def _file_of(
    dist: importlib.metadata.PathDistribution, entry: importlib.metadata.PackagePath
) -> Path:
    return Path(os.path.abspath(str(dist.locate_file(entry))))


def _version_is(text: str, wanted: Version) -> bool:
    try:
        return Version(text) == wanted
    except InvalidVersion:
        return False


def _remove_distribution(
    info: Path, dist: importlib.metadata.PathDistribution, root: Path, keep: set[Path]
) -> None:
    """Delete the files ``dist``'s RECORD lists (inside ``root``, not in ``keep``) and its
    ``.dist-info``, then the folders that left empty."""
    folders: set[Path] = set()
    for entry in dist.files or []:
        path = _file_of(dist, entry)
        if path in keep or path == root or not path.is_relative_to(root):
            continue
        if path.is_file() or path.is_symlink():
            path.unlink()
            folders.add(path.parent)
    shutil.rmtree(info, ignore_errors=True)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


# -- vendored bundles ---------------------------------------------------------------------------


def _split_bundle_filename(filename: str) -> tuple[str, str] | None:
    """``(name, version)`` of ``<name>-<safe_version>.pipper``; names may contain ``-``."""
    if not filename.endswith(BUNDLE_SUFFIX):
        return None
    stem = filename[: -len(BUNDLE_SUFFIX)]
    start = 0
    while (at := stem.find("-v", start)) > 0:
        name, version = stem[:at], parse_safe_version(stem[at + 1 :])
        if version is not None and NAME_PATTERN.fullmatch(name):
            return name, version
        start = at + 1
    return None


class LocalBundles:
    """``.pipper`` files on disk as a package source: flat folders and single files.

    A folder is what ``pipper download -d`` writes (``<name>-<safe_version>.pipper``); a file
    named on the command line is read for its name and version whatever it is called, and wins
    over a folder's file of the same version.
    """

    def __init__(self) -> None:
        self.folders: list[Path] = []
        self._versions: dict[str, dict[Version, Candidate]] = {}
        self._paths: dict[Candidate, Path] = {}

    def add_file(self, path: Path) -> PackageId:
        """Add one bundle and return the id that asks for exactly it."""
        meta = read_bundle(path)
        candidate = self._candidate(meta.name, meta.version, path)
        versions = self._versions.setdefault(candidate.project, {})
        old = versions.get(candidate.parsed)
        if old is not None and self._paths[old] != path:
            raise UsageError(
                f"{path} and {self._paths[old]} are both {candidate}; name only one of them"
            )
        versions[candidate.parsed] = candidate
        self._paths[candidate] = path
        return PackageId(meta.name, SpecifierSet(f"=={meta.version}"), raw=str(path))

    def add_folder(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UsageError(f"--from {folder}: no such folder")
        self.folders.append(folder)
        for path in sorted(folder.iterdir()):
            if not path.name.endswith(BUNDLE_SUFFIX) or not path.is_file():
                continue
            parsed = _split_bundle_filename(path.name)
            if parsed is None:
                log.warning("skipping %s: not named <name>-<safe_version>.pipper", path)
                continue
            candidate = self._candidate(*parsed, path)
            self._versions.setdefault(candidate.project, {}).setdefault(candidate.parsed, candidate)
            self._paths.setdefault(candidate, path)

    @staticmethod
    def _candidate(name: str, version: str, path: Path) -> Candidate:
        return Candidate(
            name=name,
            version=version,
            key=f"{name}/{safe_version(version)}{BUNDLE_SUFFIX}",
            size=path.stat().st_size,
            etag="",
        )

    def has(self, project: str) -> bool:
        return project in self._versions

    def versions(self, project: str) -> list[Candidate]:
        return sorted(self._versions.get(project, {}).values(), key=lambda c: c.parsed)

    def path(self, candidate: Candidate) -> Path:
        return self._paths[candidate]

    @property
    def root(self) -> Path:
        return (self.folders or [p.parent for p in self._paths.values()] or [Path.cwd()])[0]

    def describe(self) -> str:
        folders = sorted(
            {str(f) for f in self.folders} | {str(p.parent) for p in self._paths.values()}
        )
        return ", ".join(folders) or "the bundles given"
