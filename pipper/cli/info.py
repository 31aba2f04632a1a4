"""``pipper info`` and ``pipper list``: what the repository holds."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli.app import app, run
from pipper.cli.options import JsonOption, PythonOption, context, with_repository
from pipper.cli.output import human_size, info, plural, print_json

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions


@app.command("info")
@with_repository
def info_command(
    name: Annotated[
        str,
        typer.Argument(help="The package name (any spelling: Alpha-Pkg, alpha_pkg)."),
    ],
    python: PythonOption = None,
    json_output: JsonOption = False,
    *,
    repo: RepositoryOptions,
) -> None:
    """Every published version of a package, newest first, and how the installed one compares.

    The installed version is read where 'pipper install' would install (see --python).

    Example: pipper info alpha_pkg --python .venv
    """
    from pipper.catalog import PackageInfo, package_info
    from pipper.index import PackageIndex
    from pipper.installer import inspect_environment, target_python
    from pipper.specs import validate_name

    validate_name(name)
    interpreter = target_python(python)
    environment = inspect_environment(interpreter, None)
    ctx = context(repo)

    async def go() -> PackageInfo:
        async with ctx.open_storage() as storage:
            index = PackageIndex(ctx.repository, storage, None)
            return await package_info(index, name, environment)

    result = run(go)
    info(
        f"{plural(len(result.versions), 'version')} of {result.name} "
        f"in {ctx.repository.describe()}; installed: as {interpreter or sys.executable} sees it"
    )
    latest = result.latest.version if result.latest else None
    if json_output:
        print_json(
            {
                "name": result.name,
                "latest": latest,
                "installed": result.installed,
                "status": result.status,
                "versions": [
                    {
                        "version": c.version,
                        "key": c.key,
                        "size": c.size,
                        "timestamp": c.last_modified.isoformat() if c.last_modified else None,
                        "prerelease": c.parsed.is_prerelease,
                    }
                    for c in result.versions
                ],
            }
        )
        return
    installed = result.installed or "not installed"
    typer.echo(f"{result.name}  latest: {latest}  installed: {installed} ({result.status})")
    for c in result.versions:
        when = c.last_modified.strftime("%Y-%m-%d %H:%M:%S UTC") if c.last_modified else "-"
        mark = "  <- latest" if result.latest is not None and c == result.latest else ""
        typer.echo(f"  {c.version:<24} {when:<24} {human_size(c.size):>10}{mark}")


@app.command("list")
@with_repository
def list_command(json_output: JsonOption = False, *, repo: RepositoryOptions) -> None:
    """The packages in the repository with their latest versions.

    Example: pipper list -b my-bucket
    """
    from pipper.catalog import list_packages
    from pipper.index import PackageIndex
    from pipper.models import Candidate

    ctx = context(repo)

    async def go() -> list[tuple[str, Candidate | None, int]]:
        async with ctx.open_storage() as storage:
            return await list_packages(PackageIndex(ctx.repository, storage, None))

    rows = run(go)
    if json_output:
        print_json(
            [
                {"name": n, "latest": c.version if c else None, "versions": count}
                for n, c, count in rows
            ]
        )
        return
    info(
        f"{plural(len(rows), 'package') if rows else 'no packages'} in {ctx.repository.describe()}"
    )
    for n, c, count in rows:
        typer.echo(f"{n:<32} {c.version if c else '-':<16} ({plural(count, 'version')})")
