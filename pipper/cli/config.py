"""``pipper config``: every setting a command would use, and where each one came from.

The answer to "why does pipper talk to that bucket?": the same resolution every command makes
(:class:`~pipper.context.CommandContext`), printed with the source of each value: an option, a
variable, the project's ``[tool.pipper]``, a saved repository or the default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from pipper.cli.base import app
from pipper.cli.options import (
    CacheDirOption,
    ConcurrencyOption,
    InstallerOption,
    JsonOption,
    context,
    with_repository,
)
from pipper.cli.output import print_json

if TYPE_CHECKING:
    from pipper.context import CommandContext, RepositoryOptions


@app.command("config")
@with_repository
def config_command(
    installer: InstallerOption = None,
    concurrency: ConcurrencyOption = None,
    cache_dir: CacheDirOption = None,
    json_output: JsonOption = False,
    *,
    repo: RepositoryOptions,
) -> None:
    """Show every setting and where it came from (option, environment, pyproject.toml, saved).

    The order is the same for every setting: a command-line option, then the environment, then
    [tool.pipper] in pyproject.toml, then the saved default repository, then the default.

    Example: pipper config -r team
    """
    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    rows = _rows(ctx, installer.value if installer else None, cache_dir is not None)
    if json_output:
        print_json([{"setting": n, "value": v, "source": s} for n, v, s in rows])
        return
    width = max(len(name) for name, _, _ in rows)
    shown = [(name, "-" if value is None else str(value), source) for name, value, source in rows]
    value_width = min(max(len(value) for _, value, _ in shown), 40)
    for name, value, source in shown:
        typer.echo(f"{name:<{width}}  {value:<{value_width}}  {source}")


def _rows(
    ctx: CommandContext, installer: str | None, cache_given: bool
) -> list[tuple[str, Any, str]]:
    explained = ctx.explained
    repository = explained.repository
    sources = explained.sources
    location = str(repository.local_path) if repository.is_local else repository.bucket
    profile = ctx.options.profile or ctx.settings.profile
    if ctx.options.profile:
        profile_source = "-p/--profile"
    elif ctx.settings.profile:
        profile_source = "PIPPER_PROFILE"
    elif repository.profile:
        profile, profile_source = repository.profile, f"repository {repository.name!r}"
    else:
        profile_source = "not set (credentials: see the README's order)"
    cache_source = (
        "--cache-dir"
        if cache_given
        else "PIPPER_CACHE_DIR"
        if ctx.settings.get("PIPPER_CACHE_DIR")
        else "default (the user cache directory)"
    )
    return [
        ("repository", repository.describe(), "(from the settings below)"),
        ("bucket", location, sources["bucket"]),
        ("prefix", repository.root_prefix, sources["root_prefix"]),
        ("endpoint", repository.endpoint_url, sources["endpoint_url"]),
        ("region", repository.region, sources["region"]),
        ("saved repository", repository.name, sources["repository"]),
        ("profile", profile, profile_source),
        ("installer", *ctx.installer_source(installer)),
        ("concurrency", *ctx.concurrency_source()),
        ("cache", str(ctx.cache.root), cache_source),
        (
            "project",
            str(ctx.project.path) if ctx.project.path else None,
            "the closest pyproject.toml with [tool.pipper]"
            if ctx.project.path
            else "no pyproject.toml with [tool.pipper] here or above",
        ),
    ]
