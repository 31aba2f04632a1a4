"""Installing a resolved graph: what the destination has, what to change, one pip/uv call.

- ``environment``: the interpreter an install goes to and what it (or a ``--target``) holds;
- ``plan``: one step per package (install, upgrade, downgrade, keep);
- ``runner``: the single installer process that carries the plan out, and why it failed;
- ``target``: tidying a ``--target`` folder after pip;
- ``local``: vendored ``.pipper`` files as a package source (``install --from DIR``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Eager, and cheap: the submodule ``plan`` would otherwise shadow the function ``plan``.
from pipper.install.plan import Action, Installer, Step, needs_kept_wheels, plan

if TYPE_CHECKING:
    from pipper.install.environment import inspect_environment, target_python
    from pipper.install.local import LocalBundles
    from pipper.install.runner import (
        InstallOptions,
        Outcome,
        apply,
        find_uv,
        install,
        installer_command,
    )
    from pipper.install.target import prune_target

# Imported on first use (PEP 562): ``download`` needs only ``target_python``, and the rest
# (importlib.metadata, the bundle reader, wheel tags) cost a command tens of milliseconds.
_HOME = {
    "inspect_environment": "environment",
    "target_python": "environment",
    "LocalBundles": "local",
    "InstallOptions": "runner",
    "Outcome": "runner",
    "apply": "runner",
    "find_uv": "runner",
    "install": "runner",
    "installer_command": "runner",
    "prune_target": "target",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"pipper.install.{home}"), name)


__all__ = [
    "Action",
    "InstallOptions",
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
