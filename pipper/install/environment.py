"""The environment an install goes to: which interpreter, and what it already holds.

What is installed is read from the install's destination (a ``--target`` folder, another
interpreter, or the running one), never from pipper's own when another is targeted: the plan
compares the resolved graph with what is really there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from pipper.errors import UsageError

if TYPE_CHECKING:
    from importlib.metadata import Distribution
from pipper.versions import normalize_name

__all__ = [
    "ask_interpreter",
    "inspect_environment",
    "interpreter_facts",
    "interpreter_has_pip",
    "interpreter_target",
    "marker_environment",
    "probe_interpreter",
    "target_python",
]

log = logging.getLogger(__name__)

_PROBE_TIMEOUT = 120

# Printed by the interpreter being inspected: it may be any Python 3.8+, so standard library only.
# One process answers everything a command asks of an interpreter (its PEP 508 markers, computed
# as ``packaging.markers.default_environment`` does; what its wheel tags are built from; whether
# it has pip), and, given the argument ``packages``, what it has installed. The working
# directory is not part of an environment: a project's own *.egg-info lying there must not
# count as installed (``-c`` puts "" first on sys.path). A ``name-version.dist-info`` folder
# names its distribution (as installers write it, and as uv reads it); other folders' METADATA
# (PKG-INFO) is read for its Name and Version lines alone, so importlib.metadata (40 ms to
# import, then an email parse per distribution) is loaded only for zips and eggs on the path.
_FACTS = """\
import sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
import json, os, platform, sysconfig, importlib.util as u
def v(i):
    s = "%d.%d.%d" % (i.major, i.minor, i.micro)
    return s + (i.releaselevel[0] + str(i.serial) if i.releaselevel != "final" else "")
facts = {
    "markers": {
        "implementation_name": sys.implementation.name,
        "implementation_version": v(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
    "target": {
        "implementation": sys.implementation.name,
        "version": list(sys.version_info[:2]),
        "soabi": sysconfig.get_config_var("SOABI") or "",
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    },
    "pip": u.find_spec("pip") is not None,
}
def fields(path):
    name = version = None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                if key.lower() == "name":
                    name = value.strip()
                elif key.lower() == "version":
                    version = value.strip()
    except OSError:
        pass
    return name, version
def named():
    import re
    found = {}
    for entry in sys.path:
        if not os.path.isdir(entry):
            if os.path.exists(entry):
                return None  # a zip or an egg on the path: importlib.metadata reads those
            continue
        for folder in os.listdir(entry):
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            hit = re.fullmatch(NAME_VERSION, folder)
            if hit:
                name, version = hit.groups()
            else:
                path = os.path.join(entry, folder)
                inner = "METADATA" if folder.endswith(".dist-info") else "PKG-INFO"
                name, version = fields(os.path.join(path, inner) if os.path.isdir(path) else path)
            if name and version:
                found.setdefault(name, version)
    return found
def read():
    import importlib.metadata as m
    found = {}
    for d in m.distributions():
        name = d.metadata["Name"]
        if name and name not in found:
            found[name] = d.version
    return found
if sys.argv[1:] == ["packages"]:
    found = named()
    facts["packages"] = read() if found is None else found
print(json.dumps(facts))
"""

_NAME_VERSION = r"([A-Za-z0-9][A-Za-z0-9._]*)-([0-9][0-9A-Za-z.+!]*)\.dist-info"
"""A ``.dist-info`` folder that names its distribution and a plausible version."""
_FACTS = _FACTS.replace("NAME_VERSION", repr(_NAME_VERSION))

_known: dict[tuple[str, int, int], dict[str, Any]] = {}
"""What interpreters answered, by path and the identity of the file there: a command asks
the same interpreter for its markers, its tags and its pip, and each answer cost a process."""


def target_python(python: Path | None) -> Path | None:
    """The interpreter an install goes to; ``None`` means the running one.

    ``--python`` may name an interpreter (a path, or a command on PATH such as ``python3.12``)
    or a virtual environment's folder. Without it, an activated virtual environment other than
    pipper's own wins, as it does for uv: a pipper installed with pipx then installs into the
    project's environment, not into its own.
    """
    if python is None:
        from pipper.settings import Settings

        active = Settings().virtual_env or ""
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
    import importlib.metadata

    if target is not None:
        if not target.exists():
            return {}
        if not target.is_dir():
            raise UsageError(f"--target {target} is not a folder")
        return _versions(map(_name_version, importlib.metadata.distributions(path=[str(target)])))
    if python is None:
        # Not the working directory, and not the ``_vendor`` folders that setuptools and pip put
        # on sys.path once imported: their copies of packaging, wheel... are no installs.
        paths = [
            p
            for p in sys.path
            if p not in ("", ".", os.getcwd()) and "_vendor" not in Path(p).parts
        ]
        return _versions(map(_name_version, importlib.metadata.distributions(path=paths)))
    return _versions(probe_interpreter(python)[0].items())


def marker_environment(python: Path | None) -> dict[str, str]:
    """The environment markers (``python_version``, ``sys_platform``, ...) of the interpreter a
    graph is for: requirements are chosen for it, not for the one pipper runs on."""
    if python is None:
        from pipper.requirements import marker_environment as running

        return running()
    return dict(interpreter_facts(python)["markers"])


def interpreter_target(python: Path) -> dict[str, Any]:
    """What ``python``'s wheel tags are built from: implementation, version, SOABI and
    whether it is free-threaded (see ``pipper.platforms.target_for``)."""
    return dict(interpreter_facts(python)["target"])


def interpreter_has_pip(python: Path) -> bool:
    return bool(interpreter_facts(python)["pip"])


def probe_interpreter(python: Path) -> tuple[dict[str, str], bool]:
    """The distributions another interpreter sees, and whether it can run pip itself."""
    data = _ask_facts(python, packages=True)
    return {str(k): str(v) for k, v in data["packages"].items()}, bool(data["pip"])


def interpreter_facts(python: Path) -> dict[str, Any]:
    """Markers, target and pip of ``python``: asked once per interpreter file and process."""
    known = _known.get(_identity(python))
    return known if known is not None else _ask_facts(python, packages=False)


def _identity(python: Path) -> tuple[str, int, int]:
    """The path and the file there (a recreated virtual environment is another file)."""
    try:
        st = os.lstat(python)
    except OSError:
        return (str(python), -1, -1)
    return (str(python), st.st_ino, st.st_mtime_ns)


def _ask_facts(python: Path, *, packages: bool) -> dict[str, Any]:
    data = ask_interpreter(python, _FACTS, *(["packages"] if packages else []))
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("markers"), dict)
        or not all(isinstance(v, str) for v in data["markers"].values())
        or not isinstance(data.get("target"), dict)
        or (packages and not isinstance(data.get("packages"), dict))
    ):
        raise UsageError(f"{python} did not answer as a Python 3.8+ interpreter")
    _known[_identity(python)] = {k: data[k] for k in ("markers", "target", "pip")}
    return data


def ask_interpreter(python: Path, script: str, *args: str) -> object:
    """Run ``script`` (with ``args``) in ``python``; the JSON of its last line of output."""
    try:
        proc = subprocess.run(
            [str(python), "-c", script, *args],
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
    if data is None:
        reason = _last_line(proc.stderr) or f"exit code {proc.returncode}"
        raise UsageError(f"{python} did not answer as a Python 3.8+ interpreter: {reason}")
    return data


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _name_version(dist: Distribution) -> tuple[str | None, str | None]:
    """A distribution's name and version, from its ``.dist-info`` folder's name when that
    says (no METADATA to parse: about 0.5 ms each), else from its metadata."""
    folder = getattr(getattr(dist, "_path", None), "name", "")
    hit = re.fullmatch(_NAME_VERSION, folder)
    if hit:
        return hit.group(1), hit.group(2)
    return dist.metadata["Name"], dist.version


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
