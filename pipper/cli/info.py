"""``pipper info`` and ``pipper list``: what the repository holds."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli.base import app, run
from pipper.cli.options import JsonOption, PythonOption, context, with_repository
from pipper.cli.output import human_size, info, plural, print_json

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.models import Candidate
    from pipper.yanks import Yank


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
    from pipper.install import inspect_environment, target_python
    from pipper.specs import validate_name
    from pipper.yanks import describe_yank

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
                        "yanked": c.yanked,
                        "yanked_reason": _reason(result.yanks, c),
                        "wheels": [
                            {"key": w.key, "tags": result.tags.get(w.key), "size": w.size}
                            for w in c.wheels
                        ],
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
        if c.yanked:
            mark = f"  ({describe_yank(result.yanks.get(c.key))})"
        typer.echo(f"  {c.version:<24} {when:<24} {human_size(c.size):>10}{mark}")
        if len(c.wheels) > 1 or c.tag_part is not None:
            for w in c.wheels:
                tags = result.tags.get(w.key) or "(tags not recorded)"
                typer.echo(f"      {tags:<47} {human_size(w.size):>10}")


def _reason(yanks: Mapping[str, Yank], candidate: Candidate) -> str | None:
    found = yanks.get(candidate.key)
    return found.reason if found is not None else None


@app.command("list")
@with_repository
def list_command(json_output: JsonOption = False, *, repo: RepositoryOptions) -> None:
    """The packages in the repository with their latest versions.

    Example: pipper list -b my-bucket
    """
    from pipper.catalog import PackageSummary, list_packages
    from pipper.index import PackageIndex
    from pipper.yanks import describe_yank

    ctx = context(repo)

    async def go() -> list[PackageSummary]:
        async with ctx.open_storage() as storage:
            return await list_packages(PackageIndex(ctx.repository, storage, None))

    rows = run(go)
    if json_output:
        print_json(
            [
                {
                    "name": row.name,
                    "latest": row.latest.version if row.latest else None,
                    "versions": row.count,
                    "yanked": [
                        {"version": c.version, "reason": _reason(row.yanks, c)} for c in row.yanked
                    ],
                }
                for row in rows
            ]
        )
        return
    info(
        f"{plural(len(rows), 'package') if rows else 'no packages'} in {ctx.repository.describe()}"
    )
    for row in rows:
        latest = row.latest.version if row.latest else "-"
        yanked = "".join(f"; {c.version} {describe_yank(row.yanks.get(c.key))}" for c in row.yanked)
        typer.echo(f"{row.name:<32} {latest:<16} ({plural(row.count, 'version')}{yanked})")
