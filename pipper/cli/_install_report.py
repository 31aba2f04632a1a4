"""What ``pipper install`` shows: the plan (``--dry-run``) or what was done, as text or JSON.

Kept apart from the command so the command module reads as its steps. ``--json`` prints one
document on stdout whatever happened, an installer failure included, so a script can read the
installer's own exit code there while pipper's is always ``InstallError``'s.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipper.cli.output import info, print_json, result_json
from pipper.models import PublicPackage

if TYPE_CHECKING:
    from pipper.errors import InstallError
    from pipper.install import InstallOptions, Outcome, Step
    from pipper.models import RunResult

__all__ = ["InstallReport"]


@dataclass(frozen=True)
class InstallReport:
    """What the command shows: the plan (``--dry-run``) or what was done, as text or JSON."""

    result: RunResult
    steps: list[Step]
    pypi: tuple[str, ...]
    options: InstallOptions
    public: list[Step] | None = None
    """The public wheels' steps; ``None`` with ``--private-only`` (``pypi`` goes to pip)."""

    @property
    def where(self) -> str:
        if self.options.target is not None:
            return str(self.options.target)
        python = self.options.python
        interpreter = str(python) if python is not None else sys.executable
        site = "the user site" if self.options.user else "the environment"
        return f"{site} of {interpreter}"

    def show_plan(self, json_output: bool) -> None:
        if json_output:
            print_json(self.json(dry_run=True))
            return
        width = len("downgrade")
        lines = [f"Would install into {self.where}:"]
        lines += [f"  {s.action:<{width}}  {s.describe()}" for s in self.steps]
        lines += [f"  {s.action:<{width}}  {s.describe()} (public)" for s in self.public or ()]
        lines += [f"  {'pypi':<{width}}  {requirement}" for requirement in self.pypi]
        every = [*self.steps, *(self.public or ())]
        changed = [s for s in every if s.action != "keep"]
        lines.append(
            f"Would install {_count(len(changed))}{_detail(changed)}{_pypi(self.pypi)}, "
            f"keep {len(every) - len(changed)}; nothing was changed (dry run)"
        )
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    def show_outcome(self, outcome: Outcome, seconds: float, json_output: bool) -> None:
        if json_output:
            print_json(self.json(dry_run=False, outcome=outcome))
            return
        info(
            f"Installed {_count(len(outcome.changed))}{_detail(outcome.changed)}"
            f"{_pypi(outcome.requirements)} into {self.where}, kept {len(outcome.kept)} "
            f"in {seconds:.2f}s{self._read_from()}"
        )

    def _read_from(self) -> str:
        source = self.result.source
        return f" (read from {source})" if source and self.result.packages else ""

    def json(
        self,
        *,
        dry_run: bool,
        outcome: Outcome | None = None,
        failure: InstallError | None = None,
    ) -> dict[str, Any]:
        plan = [_step_json(s) for s in self.steps]
        public = [_step_json(s) for s in self.public or ()]
        ran = failure is not None or bool(outcome and outcome.ran)
        exit_code = failure.installer_exit_code if failure else 0 if ran else None
        data = result_json(
            self.result,
            {
                "plan": plan,
                "public_plan": public,
                "pypi": list(self.pypi),
                "destination": self.where,
                "installer": self.options.installer,
                "dry_run": dry_run,
                "installer_ran": ran,
                "installer_exit_code": exit_code,
                **({"error": failure.message} if failure else {}),
            },
        )
        by_name = {s.name: s.package.source for s in self.steps}
        for package in data["packages"]:
            package["source"] = by_name.get(package["name"], package["source"])
        return data


def _step_json(step: Step) -> dict[str, Any]:
    return {
        "name": step.name,
        "version": step.version,
        "installed": step.installed,
        "action": step.action,
        "source": step.package.source,
    }


def _detail(changed: list[Step]) -> str:
    parts = [
        f"{n} {word}"
        for word, n in (
            ("public", sum(isinstance(s.package, PublicPackage) for s in changed)),
            ("upgraded", sum(s.action == "upgrade" for s in changed)),
            ("downgraded", sum(s.action == "downgrade" for s in changed)),
        )
        if n
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _pypi(pypi: tuple[str, ...]) -> str:
    if not pypi:
        return ""
    return f" and {len(pypi)} pypi requirement{'s' if len(pypi) != 1 else ''}"


def _count(n: int) -> str:
    return f"{n} package{'' if n == 1 else 's'}"
