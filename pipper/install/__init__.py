"""Installing a resolved graph: what the destination has, what to change, one pip/uv call.

- ``environment``: the interpreter an install goes to and what it (or a ``--target``) holds;
- ``plan``: one step per package (install, upgrade, downgrade, keep);
- ``runner``: the single installer process that carries the plan out, and why it failed;
- ``target``: tidying a ``--target`` folder after pip;
- ``local``: vendored ``.pipper`` files as a package source (``install --from DIR``).
"""

from __future__ import annotations

from pipper.install.environment import inspect_environment, target_python
from pipper.install.local import LocalBundles
from pipper.install.plan import Action, Installer, Step, needs_kept_wheels, plan
from pipper.install.runner import (
    InstallOptions,
    Outcome,
    apply,
    find_uv,
    install,
    installer_command,
)
from pipper.install.target import prune_target

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
