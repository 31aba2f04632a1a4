"""``pipper install``: resolve the graph, then install it with one pip (or uv) call."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipper.cli.app import app
from pipper.cli.options import (
    CacheDirOption,
    ConcurrencyOption,
    DevOption,
    InputOption,
    InstallerOption,
    JsonOption,
    OfflineOption,
    PreOption,
    context,
    with_repository,
)
from pipper.cli.output import info, print_json, result_json
from pipper.errors import UsageError

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.installer import Installer, Outcome, Step
    from pipper.models import RunResult
    from pipper.run import Run
    from pipper.specs import PackageId

_BUNDLE_SUFFIX = ".pipper"
_PANEL = "Where to install"


@app.command()
@with_repository
def install(
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Package ids (NAME, NAME:CONSTRAINT, NAME>=1.0,<2) and/or .pipper files; a "
            "file's dependencies come from its own folder when there, else from the repository.",
            show_default=False,
        ),
    ] = None,
    input_file: InputOption = None,
    from_dirs: Annotated[
        list[Path] | None,
        typer.Option(
            "--from",
            metavar="DIR",
            help="A folder of .pipper files (as 'pipper download -d' writes it) to install "
            "from instead of the repository, with no network. Repeatable.",
            show_default=False,
        ),
    ] = None,
    dev: DevOption = False,
    pre: PreOption = False,
    upgrade: Annotated[
        bool,
        typer.Option(
            "-u",
            "--upgrade",
            help="Install the newest allowed versions, even where an installed one satisfies.",
        ),
    ] = False,
    target: Annotated[
        Path | None,
        typer.Option(
            "-t",
            "--target",
            metavar="DIR",
            help="Install into this folder (pip's --target) instead of an environment.",
            rich_help_panel=_PANEL,
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        bool,
        typer.Option(
            "--user", help="Install into the user site (pip's --user).", rich_help_panel=_PANEL
        ),
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option(
            "--python",
            metavar="PYTHON",
            help="Install into this interpreter's environment (or a virtual environment's "
            "folder). (default: the active virtual environment, else pipper's own Python)",
            rich_help_panel=_PANEL,
            show_default=False,
        ),
    ] = None,
    installer: InstallerOption = None,
    find_links: Annotated[
        list[str] | None,
        typer.Option(
            "--find-links",
            metavar="DIR|URL",
            help="Passed to pip/uv: a folder or URL of wheels for the pypi requirements.",
            show_default=False,
        ),
    ] = None,
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url",
            metavar="URL",
            help="Passed to pip/uv: the index for the pypi requirements. (default: pip's own)",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Resolve and print the plan; install nothing.")
    ] = False,
    offline: OfflineOption = False,
    concurrency: ConcurrencyOption = None,
    cache_dir: CacheDirOption = None,
    json_output: JsonOption = False,
    *,
    repo: RepositoryOptions,
) -> None:
    """Resolve the dependency graph and install it all with one pip (or uv) call.

    Private wheels go to pip as files: no public package of the same name can replace them.

    An installed version that satisfies every constraint is kept, unless --upgrade.

    Examples: pipper install -i pipper.json --python .venv; pipper install --from ./vendor alpha
    """
    from pipper import installer as core
    from pipper.cli.progress import progress_for
    from pipper.cli.runs import with_run

    started = time.perf_counter()
    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    which: Installer = ctx.installer(installer.value if installer else None)
    names, files = _split_ids(ids or [])
    folders = [d.expanduser().absolute() for d in from_dirs or []]
    if user and target is not None:
        raise UsageError("--user and --target cannot be combined")
    if which == "uv":
        if user:
            raise UsageError("uv has no --user installs; use --installer pip")
        core.find_uv()
    package_ids, pypi = _requested(names, input_file, dev=dev, have_bundles=bool(files or folders))
    python_path = core.target_python(python)
    target_dir = target.expanduser().absolute() if target is not None else None
    installed = core.inspect_environment(python_path, target_dir)
    prefer = None if upgrade else installed
    bundles: core.LocalBundles | None = None
    if files or folders:
        if any(i.url is not None for i in package_ids):
            raise UsageError("bundle URLs cannot be combined with --from or .pipper files")
        bundles = core.LocalBundles()
        package_ids = _merge([bundles.add_file(f) for f in files] + package_ids)
        for folder in [*folders, *(f.parent for f in files)]:
            bundles.add_folder(folder)
    where = _where(python_path, target_dir, user)

    async def work(opened: Run) -> tuple[RunResult, list[Step], Outcome | None]:
        """Resolve, plan and install inside the run: its files are in use until pip is done."""
        with progress_for("Resolving", enabled=not json_output) as progress:
            opened.progress = progress
            result = await opened.resolve(package_ids, prefer=prefer) if package_ids else _empty()
        steps = core.plan(result.packages, installed)
        if not dry_run and core.needs_kept_wheels(steps, target_dir, which):
            # pip cannot see a --target folder's packages, so the kept ones go in again as files.
            async with ctx.run(offline=offline, pre=pre) as again:
                full = await again.resolve(_pins(steps))
            steps = [replace(s, package=full.packages[s.project]) for s in steps]
        if dry_run:
            return result, steps, None
        _announce(steps, pypi, which)
        return (
            result,
            steps,
            core.apply(
                steps,
                pypi,
                python=python_path,
                target=target_dir,
                user=user,
                installer=which,
                upgrade=upgrade,
                index_url=index_url,
                find_links=find_links or [],
                stream=logging.getLogger("pipper").isEnabledFor(logging.DEBUG),
            ),
        )

    result, steps, outcome = with_run(
        ctx,
        None,
        work,
        offline=offline,
        pre=pre,
        installed=installed,
        local=bundles,
        remote=not folders,
    )
    if outcome is None:
        if json_output:
            print_json(_json(result, steps, pypi, where, which, dry_run=True))
        else:
            _print_plan(steps, pypi, where)
        return
    if json_output:
        print_json(_json(result, steps, pypi, where, which, dry_run=False, outcome=outcome))
    else:
        info(_summary(outcome, time.perf_counter() - started, where) + _from(result))


def _split_ids(items: list[str]) -> tuple[list[str], list[Path]]:
    """Package ids apart from ``.pipper`` files (a non-URL ending in .pipper is a file)."""
    names: list[str] = []
    files: list[Path] = []
    for item in items:
        if "://" not in item and item.strip().lower().endswith(_BUNDLE_SUFFIX):
            path = Path(item.strip()).expanduser().absolute()
            if not path.is_file():
                raise UsageError(f"no such bundle file: {item}")
            files.append(path)
        elif Path(item).expanduser().is_dir():
            raise UsageError(f"{item} is a folder: install from its bundles with --from {item}")
        else:
            names.append(item)
    return names, files


def _requested(
    names: list[str], input_file: Path | None, *, dev: bool, have_bundles: bool
) -> tuple[list[PackageId], tuple[str, ...]]:
    """Package ids and pypi requirements; ``./pipper.json`` when nothing else is named."""
    from pipper.specs import load_input, parse_package_ids

    path = input_file
    if path is None and not names and not have_bundles:
        default = Path("pipper.json")
        if not default.is_file():
            raise UsageError(
                "nothing to install: give package ids, .pipper files or -i FILE "
                "(no ./pipper.json here)"
            )
        path = default
    found = parse_package_ids(names)
    pypi: tuple[str, ...] = ()
    if path is not None:
        loaded = load_input(path)
        found.extend(loaded.ids(dev))
        pypi = loaded.pypi
    if not found and not pypi and not have_bundles:
        raise UsageError(f"{path} lists nothing to install")
    return _merge(found), pypi


def _merge(ids: list[PackageId]) -> list[PackageId]:
    from pipper.specs import merge_ids

    return merge_ids(ids)


def _empty() -> RunResult:
    from pipper.models import RunResult

    return RunResult(packages={}, rounds=0, depth=0, timings={"resolve": 0.0, "total": 0.0})


def _pins(steps: list[Step]) -> list[PackageId]:
    from packaging.specifiers import SpecifierSet

    from pipper.specs import PackageId

    return [
        PackageId(s.name, SpecifierSet(f"=={s.version}"), raw=f"{s.name}=={s.version}")
        for s in steps
    ]


def _where(python: Path | None, target: Path | None, user: bool) -> str:
    if target is not None:
        return str(target)
    interpreter = str(python) if python is not None else sys.executable
    return f"the user site of {interpreter}" if user else f"the environment of {interpreter}"


def _print_plan(steps: list[Step], pypi: tuple[str, ...], where: str) -> None:
    lines = [f"Would install into {where}:"]
    width = len("downgrade")
    for step in steps:
        lines.append(f"  {step.action:<{width}}  {step.describe()}")
    for requirement in pypi:
        lines.append(f"  {'pypi':<{width}}  {requirement}")
    changed = [s for s in steps if s.action != "keep"]
    lines.append(
        f"Would install {_count(len(changed))}{_detail(changed)}{_pypi(pypi)}, "
        f"keep {len(steps) - len(changed)}; nothing was changed (dry run)"
    )
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _detail(changed: list[Step]) -> str:
    parts = [
        f"{n} {word}"
        for word, n in (
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


def _summary(outcome: Outcome, seconds: float, where: str) -> str:
    return (
        f"Installed {_count(len(outcome.changed))}{_detail(outcome.changed)}"
        f"{_pypi(outcome.requirements)} into {where}, kept {len(outcome.kept)} in {seconds:.2f}s"
    )


def _announce(steps: list[Step], pypi: tuple[str, ...], installer: str) -> None:
    """A line while the installer runs, which may take a while with no output of its own."""
    changed = [s for s in steps if s.action != "keep"]
    if changed or pypi:
        info(f"Installing {_count(len(changed))}{_pypi(pypi)} with {installer}...")


def _from(result: RunResult) -> str:
    return f" (read from {result.source})" if result.source and result.packages else ""


def _count(n: int) -> str:
    return f"{n} package{'' if n == 1 else 's'}"


def _json(
    result: RunResult,
    steps: list[Step],
    pypi: tuple[str, ...],
    where: str,
    installer: str,
    *,
    dry_run: bool,
    outcome: Outcome | None = None,
) -> dict[str, Any]:
    def source(step: Step) -> str:
        return step.package.source

    data = result_json(
        result,
        {
            "plan": [
                {
                    "name": s.name,
                    "version": s.version,
                    "installed": s.installed,
                    "action": s.action,
                    "source": source(s),
                }
                for s in steps
            ],
            "pypi": list(pypi),
            "destination": where,
            "installer": installer,
            "dry_run": dry_run,
            "installer_ran": bool(outcome and outcome.ran),
        },
    )
    by_name = {s.name: source(s) for s in steps}
    for package in data["packages"]:
        package["source"] = by_name.get(package["name"], package["source"])
    return data
