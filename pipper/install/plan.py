"""What to change in an environment: one step (install, upgrade, downgrade, keep) per package.

The plan is pure: it compares the resolved graph with what the destination holds and decides
nothing about how the installer is run, so ``--dry-run`` prints exactly what a real run does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.version import Version

if TYPE_CHECKING:
    from pipper.models import Package, PublicPackage

__all__ = ["Action", "Installer", "Step", "needs_kept_wheels", "plan"]

Installer = Literal["pip", "uv"]
Action = Literal["install", "upgrade", "downgrade", "keep"]


@dataclass(frozen=True)
class Step:
    """What happens to one package of the graph: a private bundle or a public wheel."""

    package: Package | PublicPackage
    action: Action
    installed: str | None

    @property
    def project(self) -> str:
        return self.package.project

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def version(self) -> str:
        return self.package.version

    def describe(self) -> str:
        if self.action in ("upgrade", "downgrade"):
            return f"{self.name} {self.installed} -> {self.version}"
        return f"{self.name} {self.version}"


def plan(
    packages: Mapping[str, Package] | Mapping[str, PublicPackage], installed: Mapping[str, str]
) -> list[Step]:
    """Compare the chosen versions with the installed ones: install, upgrade, downgrade or keep."""
    steps: list[Step] = []
    for key, package in packages.items():
        have = installed.get(key)
        chosen = Version(package.version)
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
