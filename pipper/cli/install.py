"""``pipper install``: resolve the graph, then install it with one pip (or uv) call."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli.base import app
from pipper.cli.options import (
    CacheDirOption,
    ConcurrencyOption,
    DevOption,
    ExtraIndexUrlOption,
    FindLinksOption,
    IndexUrlOption,
    InputOption,
    InstallerOption,
    JsonOption,
    OfflineOption,
    PreOption,
    PrivateOnlyOption,
    context,
    with_repository,
)
from pipper.cli.output import print_json
from pipper.errors import InstallError, UsageError

if TYPE_CHECKING:
    from pipper.cli._install_report import InstallReport
    from pipper.context import CommandContext, RepositoryOptions
    from pipper.install import Installer, InstallOptions, LocalBundles, Outcome, Step
    from pipper.lock import Lock
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
    find_links: FindLinksOption = None,
    index_url: IndexUrlOption = None,
    extra_index_url: ExtraIndexUrlOption = None,
    private_only: PrivateOnlyOption = False,
    lock_file: Annotated[
        Path | None,
        typer.Option(
            "--lock",
            metavar="FILE",
            help="Install exactly the packages of this lock file (see 'pipper lock'), public "
            "wheels included, every sha256 checked.",
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

    Private wheels go to pip as files: no public package of the same name can replace them. The
    public wheels they need are resolved by pip first, cached, and passed as files too.

    An installed version that satisfies every constraint is kept, unless --upgrade.

    Examples: pipper install -i pipper.json --python .venv; pipper install --from ./vendor alpha;
    pipper install --lock pipper.lock
    """
    from pipper.cli._install_report import InstallReport
    from pipper.cli.progress import progress_for
    from pipper.cli.runs import check_lock_alone, public_config, with_run
    from pipper.install import inspect_environment, plan
    from pipper.platforms import check_installable, target_spec
    from pipper.public import InstallSight

    started = time.perf_counter()
    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    which: Installer = ctx.installer(installer.value if installer else None)
    options = _install_options(python, target, user, which, upgrade, index_url, find_links)
    if lock_file is not None:
        check_lock_alone(ids, input_file, dev=dev, pre=pre)
        if from_dirs:
            raise UsageError("--lock fetches exactly the lock's packages: drop --from")
    request = _gather(ids or [], input_file, from_dirs or [], dev=dev, lock=lock_file is not None)
    installed = inspect_environment(options.python, options.target)
    prefer = None if upgrade else installed
    sight = InstallSight(target=options.target, user=user, upgrade=upgrade)
    public = public_config(
        private_only,
        options.python,
        index_url,
        extra_index_url,
        find_links,
        install=sight,
        wheel_dirs=request.folders,
    )
    lock = _read_lock(lock_file)
    wheels_for = target_spec(options.python)
    if lock is not None:
        from pipper.lock import check_target

        check_target(lock, wheels_for)

    async def work(opened: Run) -> tuple[InstallReport, Outcome | None]:
        """Resolve, plan and install inside the run: the wheels stay held until pip is done."""
        if not dry_run:
            opened.extract = ctx.cache.extracted  # wheels ready as the bundles come in
        with progress_for("Resolving", enabled=not json_output) as progress:
            opened.progress = progress
            if lock is not None:
                result = await opened.fetch_locked(lock)
            elif request.ids or request.pypi:
                result = await opened.resolve(request.ids, prefer=prefer, requirements=request.pypi)
            else:
                result = _empty()
        check_installable(result.packages.values(), wheels_for)
        report = InstallReport(
            result,
            plan(result.packages, installed),
            tuple(r.requirement for r in result.requirements) if public is None else (),
            options,
            public=plan(result.public, installed) if public is not None else None,
        )
        if dry_run:
            return report, None
        steps = await _with_kept_wheels(ctx, report.steps, options, offline=offline, pre=pre)
        report = replace(report, steps=steps)
        _announce(steps, report.pypi, options.installer)
        return report, _install(report, json_output, ctx)

    report, outcome = with_run(
        ctx,
        None,
        work,
        offline=offline,
        pre=pre,
        installed=installed,
        local=request.local,
        remote=request.remote,
        lock=lock,
        public=public,
        target=wheels_for,
    )
    if outcome is None:
        report.show_plan(json_output)
        return
    report.show_outcome(outcome, time.perf_counter() - started, json_output)


@dataclass(frozen=True)
class _Request:
    """What the command line asks for: package ids, pypi requirements and vendored bundles."""

    ids: list[PackageId]
    pypi: tuple[str, ...]
    local: LocalBundles | None
    remote: bool
    """False with ``--from``: the vendored folders decide alone, the repository is never read."""
    folders: tuple[Path, ...] = ()
    """The ``--from`` folders: their public wheels are the only public source."""


def _install_options(
    python: Path | None,
    target: Path | None,
    user: bool,
    which: Installer,
    upgrade: bool,
    index_url: str | None,
    find_links: list[str] | None,
) -> InstallOptions:
    """Where the install goes and how, refused before anything is resolved if impossible."""
    from pipper.install import InstallOptions, find_uv, target_python

    options = InstallOptions(
        target=target.expanduser().absolute() if target is not None else None,
        user=user,
        installer=which,
        upgrade=upgrade,
        index_url=index_url,
        find_links=tuple(find_links or ()),
        stream=logging.getLogger("pipper").isEnabledFor(logging.DEBUG),
    )
    if which == "uv":
        find_uv()
    return replace(options, python=target_python(python))


def _gather(
    items: list[str], input_file: Path | None, from_dirs: list[Path], *, dev: bool, lock: bool
) -> _Request:
    """Package ids, pypi requirements, and the bundles of ``--from`` folders and ``.pipper``
    files (nothing with ``--lock``: the lock is the request)."""
    from pipper.install import LocalBundles
    from pipper.specs import gather_requested, merge_ids

    if lock:
        return _Request([], (), None, remote=True)
    names, files = _split_ids(items)
    folders = [d.expanduser().absolute() for d in from_dirs]
    requested = gather_requested(
        names, input_file, dev=dev, goal="install", bundles=bool(files or folders)
    )
    ids, pypi = requested.ids, requested.pypi
    if not files and not folders:
        return _Request(ids, pypi, None, remote=True)
    if any(i.url is not None for i in ids):
        raise UsageError("bundle URLs cannot be combined with --from or .pipper files")
    local = LocalBundles()
    ids = merge_ids([local.add_file(f) for f in files] + ids)
    for folder in [*folders, *(f.parent for f in files)]:
        local.add_folder(folder)
    return _Request(ids, pypi, local, remote=not folders, folders=tuple(folders))


async def _with_kept_wheels(
    ctx: CommandContext, steps: list[Step], options: InstallOptions, *, offline: bool, pre: bool
) -> list[Step]:
    """pip cannot see a --target folder's packages, so the kept ones go in again as files."""
    from pipper.install import needs_kept_wheels

    if not needs_kept_wheels(steps, options.target, options.installer):
        return steps
    async with ctx.run(offline=offline, pre=pre) as again:
        full = await again.resolve(_pins(steps))
    return [replace(s, package=full.packages[s.project]) for s in steps]


def _empty() -> RunResult:
    from pipper.models import RunResult

    return RunResult(packages={}, timings={"resolve": 0.0, "total": 0.0})


def _install(report: InstallReport, json_output: bool, ctx: CommandContext) -> Outcome:
    """Run the one installer call, with the wheels at their stable paths in the cache; with
    ``--json`` a failure still prints the document, with the installer's own exit code
    (pipper's is always ``InstallError``'s)."""
    from pipper.install import apply

    try:
        return apply(
            report.steps,
            report.pypi,
            report.options,
            public=report.public,
            extracted=ctx.cache.extracted,
        )
    except InstallError as exc:
        if json_output:
            print_json(report.json(dry_run=False, failure=exc))
        raise


def _announce(steps: list[Step], pypi: tuple[str, ...], installer: str) -> None:
    """A line while the installer runs, which may take a while with no output of its own."""
    from pipper.cli.output import info, plural

    changed = [s for s in steps if s.action != "keep"]
    if changed or pypi:
        extra = f" and {plural(len(pypi), 'pypi requirement')}" if pypi else ""
        info(f"Installing {plural(len(changed), 'package')}{extra} with {installer}...")


def _read_lock(path: Path | None) -> Lock | None:
    from pipper.lock import read_lock

    return read_lock(path) if path is not None else None


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


def _pins(steps: list[Step]) -> list[PackageId]:
    from packaging.specifiers import SpecifierSet

    from pipper.specs import PackageId

    return [
        PackageId(s.name, SpecifierSet(f"=={s.version}"), raw=f"{s.name}=={s.version}")
        for s in steps
    ]
