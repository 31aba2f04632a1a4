"""Which wheel of a version fits an interpreter: targets, wheel tags and the choice between them.

A version may hold several wheels (``cp311-cp311-manylinux_2_17_x86_64``, ``py3-none-any``...).
pip and uv pick, for each version, the wheel whose tags come first in the target's list of
supported tags, and skip a version none of whose wheels fits; pipper does the same, so a graph
resolves to what the installer will accept.

A target is read from the interpreter the graph is for (``--python``, an active virtual
environment, else pipper's own) and never from pipper's own when another is named. Platform tags
(``manylinux_2_36_x86_64``...) depend on the machine's C library, not on the interpreter, so they
come from this process even for another interpreter on the same machine. ``download --platform
--python-version --implementation --abi`` (pip download's spellings) builds a target for another
machine; ``--all-platforms`` is the target every wheel fits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from packaging import tags as _tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from pipper.errors import ResolutionError, UsageError
from pipper.keys import is_pure_wheel
from pipper.models import Candidate, Package, WheelObject

__all__ = [
    "ANY_TARGET",
    "Target",
    "TargetSpec",
    "choose_wheels",
    "custom_target",
    "running_target",
    "tags_of_wheel",
    "target_for",
    "target_spec",
]


@dataclass(frozen=True)
class Target:
    """The tags an interpreter supports, most preferred first; ``everything`` fits every wheel."""

    description: str
    tags: tuple[str, ...] = ()
    everything: bool = False

    @cached_property
    def _rank(self) -> dict[str, int]:
        return {tag: i for i, tag in reversed(list(enumerate(self.tags)))}

    def rank(self, wheel_tags: Iterable[str]) -> int | None:
        """How much the target prefers a wheel with these tags (lower is better); None: unfit."""
        if self.everything:
            return 0
        ranks = [self._rank[t] for t in wheel_tags if t in self._rank]
        return min(ranks) if ranks else None

    def fits(self, wheel_name: str) -> bool:
        tags = tags_of_wheel(wheel_name)
        return tags is not None and self.rank(tags) is not None

    def shown(self, limit: int = 3) -> str:
        """The description and the first tags, for an error that says why nothing fit."""
        if self.everything:
            return self.description
        head = ", ".join(self.tags[:limit])
        more = f", ... ({len(self.tags)} tags)" if len(self.tags) > limit else ""
        return f"{self.description} ({head}{more})"


ANY_TARGET = Target("every platform", everything=True)


def tags_of_wheel(wheel_name: str) -> frozenset[str] | None:
    """Every ``python-abi-platform`` tag a wheel file name declares; None when it is no wheel."""
    try:
        _, _, _, tags = parse_wheel_filename(wheel_name)
    except (InvalidWheelFilename, ValueError):
        return None
    return frozenset(str(tag) for tag in tags)


def tags_of_part(tag_part: str) -> frozenset[str] | None:
    """The tags of a key's wheel tag part (``cp311-cp311-manylinux_2_17_x86_64``)."""
    return tags_of_wheel(f"x-0-{tag_part}.whl")


def running_target() -> Target:
    """The running interpreter, as pip running in it would see it."""
    import sys

    impl = _tags.interpreter_name()
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    tags = tuple(str(t) for t in _tags.sys_tags())
    return Target(f"{_implementation_label(impl)} {version} (this interpreter)", tags)


def target_for(python: Path | None) -> Target:
    """The target of the interpreter a graph is for (``None``: the running one)."""
    if python is None:
        return running_target()
    from pipper.install.environment import interpreter_target

    data = interpreter_target(python)  # asked with its markers, in one process
    try:
        impl = str(data["implementation"])
        major, minor = (int(x) for x in data["version"])
        soabi, free = str(data["soabi"]), bool(data["free_threaded"])
    except (AssertionError, ValueError, KeyError, TypeError):
        raise UsageError(f"{python} did not answer as a Python 3.8+ interpreter") from None
    short = {"cpython": "cp", "pypy": "pp"}.get(impl, impl)
    abis: list[str] | None = None
    if short == "cp":
        abis = [f"cp{major}{minor}{'t' if free else ''}"]
    elif soabi:
        abis = [soabi.replace(".", "_").replace("-", "_")]
    tags = _build((major, minor), short, abis, list(_tags.platform_tags()))
    return Target(f"{_implementation_label(short)} {major}.{minor} ({python})", tags)


def custom_target(
    *,
    platforms: Sequence[str] = (),
    python_version: str | None = None,
    implementation: str | None = None,
    abis: Sequence[str] = (),
) -> Target:
    """pip download's ``--platform --python-version --implementation --abi`` as one target.

    What is not given is the running interpreter's (as pip does). A macOS platform also accepts
    wheels for older macOS versions, and ``manylinux_2_X`` those for older glibc versions, as
    the installer on that machine would.
    """
    import sys

    version = _python_version(python_version) if python_version else sys.version_info[:2]
    impl = implementation or _tags.interpreter_name()
    if impl not in {"cp", "pp", "py", "ip", "jy"} or not impl.isalpha():
        raise UsageError(f"--implementation {impl}: expected cp, pp, py, ip or jy")
    expanded = [p for platform in platforms for p in _expand_platform(platform)] or list(
        _tags.platform_tags()
    )
    chosen_abis = list(abis) or None
    tags = _build(version, impl, chosen_abis, expanded)
    where = ", ".join(platforms) or "this platform"
    label = f"{_implementation_label(impl)} {version[0]}.{version[1]} on {where}"
    return Target(label, tags)


def _build(
    version: tuple[int, int], impl: str, abis: list[str] | None, platforms: list[str]
) -> tuple[str, ...]:
    if impl == "cp":
        found = list(_tags.cpython_tags(version, abis, platforms))
    else:
        interp = f"{impl}{version[0]}{version[1]}"
        found = list(_tags.generic_tags(interp, abis or ["none"], platforms))
    interpreter = f"{impl}{version[0]}{version[1]}"
    found += _tags.compatible_tags(version, interpreter, platforms)
    return tuple(dict.fromkeys(str(t) for t in found))


def _python_version(text: str) -> tuple[int, int]:
    digits = text.replace(".", "") if "." not in text and len(text) >= 2 else None
    parts = [digits[0], digits[1:]] if digits else text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise UsageError(f"--python-version {text}: expected MAJOR.MINOR such as 3.12")
    return int(parts[0]), int(parts[1])


def _expand_platform(platform: str) -> list[str]:
    platform = platform.replace("-", "_").replace(".", "_")
    if platform.startswith("macosx_"):
        parts = platform.split("_", 3)
        if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
            return list(_tags.mac_platforms((int(parts[1]), int(parts[2])), parts[3]))
    if platform.startswith("manylinux_"):
        parts = platform.split("_", 3)
        if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
            major, minor, arch = int(parts[1]), int(parts[2]), parts[3]
            found = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
            found += [f"{legacy[m]}_{arch}" for m in legacy if m <= minor]
            return found
    return [platform]


def _implementation_label(short: str) -> str:
    return {"cp": "CPython", "pp": "PyPy", "cpython": "CPython", "pypy": "PyPy"}.get(short, short)


class TargetSpec:
    """A target computed on first use: most graphs hold no platform wheel and never need one.

    ``everything`` is known at once (``--all-platforms``), so a run can fetch every wheel of the
    chosen versions without computing a target at all.
    """

    def __init__(self, make: Callable[[], Target], *, everything: bool = False) -> None:
        self._make = make
        self._target: Target | None = None
        self.everything = everything

    def __call__(self) -> Target:
        if self._target is None:
            self._target = self._make()
        return self._target


def target_spec(
    python: Path | None = None,
    *,
    platforms: Sequence[str] = (),
    python_version: str | None = None,
    implementation: str | None = None,
    abis: Sequence[str] = (),
    all_platforms: bool = False,
) -> TargetSpec:
    """The target a command's options name, computed once when first asked for."""
    custom = bool(platforms or python_version or implementation or abis)
    if all_platforms and custom:
        raise UsageError(
            "--all-platforms takes every wheel: drop --platform, --python-version, "
            "--implementation and --abi"
        )
    if all_platforms:
        return TargetSpec(lambda: ANY_TARGET, everything=True)
    if custom:
        made = custom_target(
            platforms=platforms,
            python_version=python_version,
            implementation=implementation,
            abis=abis,
        )  # bad spellings are usage errors before any request
        return TargetSpec(lambda: made)
    return TargetSpec(lambda: target_for(python))


_UNKNOWN = 1 << 30  # a bundle of unknown tags fits, after every wheel known to fit


def choose_wheels(name: str, candidates: list[Candidate], target: TargetSpec) -> list[Candidate]:
    """Each version as the bundle of its best wheel for the target; unfit versions left out.

    A ``.pipper`` bundle whose tags are unknown (a pure wheel, or the original's) fits, after
    any wheel known to fit. When versions exist but none fits, the error names the package, the
    target's tags and each version's tags.
    """
    if not any(w.tag_part is not None for c in candidates for w in c.wheels):
        return candidates
    chosen = target()
    fitting: list[Candidate] = []
    for candidate in candidates:
        best: tuple[int, WheelObject] | None = None
        for wheel in candidate.wheels:
            rank = _rank(chosen, wheel)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, wheel)
        if best is None:
            continue
        wheel = best[1]
        fitting.append(
            candidate
            if wheel.key == candidate.key
            else replace(
                candidate, key=wheel.key, size=wheel.size, etag=wheel.etag, tag_part=wheel.tag_part
            )
        )
    if candidates and not fitting:
        offered = "; ".join(
            f"{c.version}: {', '.join(w.tag_part or 'unknown' for w in c.wheels)}"
            for c in reversed(candidates[-5:])
        )
        raise ResolutionError(f"no wheel of {name} fits {chosen.shown()}; available: {offered}")
    return fitting


def _rank(target: Target, wheel: WheelObject) -> int | None:
    if target.everything:
        return 0  # every wheel fits: the version's own bundle (listed first) stands for it
    if wheel.tag_part is None:
        return _UNKNOWN
    tags = tags_of_part(wheel.tag_part)
    return None if tags is None else target.rank(tags)


def check_installable(packages: Iterable[Package], target: TargetSpec) -> None:
    """Refuse, before the installer runs, a bundle whose platform wheel does not fit: a bundle
    of unknown tags (the original's, or one published before tags were marked) is only known
    once fetched."""
    unfit = [
        p
        for p in packages
        if p.meta is not None
        and not is_pure_wheel(p.meta.wheel_name)
        and not target().fits(p.meta.wheel_name)
    ]
    if unfit:
        first = unfit[0]
        more = f" (and {len(unfit) - 1} more)" if len(unfit) > 1 else ""
        assert first.meta is not None
        raise ResolutionError(
            f"{first.candidate} holds {first.meta.wheel_name}, which does not fit "
            f"{target().shown()}{more}: publish a wheel for it, or choose another version"
        )
