"""``pipper tree``: the resolved graph as an indented tree (``--invert NAME``: who pulls it in).

The graph comes from the resolution ``download`` and ``install --dry-run`` make (``Run.plan``:
the same walk, bringing no bundle body in that the object metadata makes unnecessary), or from
a lock file, read as it is with no request at all. Drawing it is :mod:`pipper.tree`'s job.
"""

from __future__ import annotations

import stat
import sys
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
    GraphPythonOption,
    IdsArgument,
    IndexUrlOption,
    InputOption,
    JsonOption,
    OfflineOption,
    PreOption,
    PrivateOnlyOption,
    context,
    with_repository,
)
from pipper.cli.output import human_size, info, print_json, use_color

if TYPE_CHECKING:
    from pipper.context import CommandContext, RepositoryOptions
    from pipper.models import PublicPackage, RunResult
    from pipper.run import Run
    from pipper.tree import TreeGraph


@app.command("tree")
@with_repository
def tree_command(
    ids: IdsArgument = None,
    input_file: InputOption = None,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth",
            metavar="N",
            min=0,
            help="Show N levels below the requested packages (0: those alone). (default: all)",
            show_default=False,
        ),
    ] = None,
    invert: Annotated[
        str | None,
        typer.Option(
            "--invert",
            metavar="NAME",
            help="Show who pulls NAME in: NAME first, then each package that requires it, up "
            "to what was requested, so every chain that brings it in can be read.",
            show_default=False,
        ),
    ] = None,
    lock_file: Annotated[
        Path | None,
        typer.Option(
            "--lock",
            metavar="FILE",
            help="Show the graph of this lock file (see 'pipper lock') as it is: no resolving, "
            "no request.",
            show_default=False,
        ),
    ] = None,
    dev: DevOption = False,
    pre: PreOption = False,
    offline: OfflineOption = False,
    concurrency: ConcurrencyOption = None,
    cache_dir: CacheDirOption = None,
    json_output: JsonOption = False,
    private_only: PrivateOnlyOption = False,
    python: GraphPythonOption = None,
    index_url: IndexUrlOption = None,
    extra_index_url: ExtraIndexUrlOption = None,
    find_links: FindLinksOption = None,
    *,
    repo: RepositoryOptions,
) -> None:
    """Show the resolved dependency graph as a tree, with versions.

    Each package is shown in full once, then as 'NAME VERSION (*)'. Each line
    says whether a package is public (from an index), where its bundle or
    wheel would come from (the cache or the network) and its size.

    Resolving reads each bundle's object metadata, not the bundle, wherever
    the metadata names its dependencies: nothing is downloaded that need not
    be. --lock reads a lock file and makes no request at all.

    Example: pipper tree -i pipper.json --invert shared_utils
    """
    from pipper.tree import TreeGraph, render, summary, to_json, walk

    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    if lock_file is not None:
        graph, source = _from_lock(ctx, lock_file, ids, input_file, dev, pre, private_only)
    else:
        result = _resolve(
            ctx,
            ids,
            input_file,
            dev=dev,
            pre=pre,
            offline=offline,
            enabled=not json_output,
            private_only=private_only,
            public=(python, index_url, extra_index_url, find_links),
        )
        graph, source = TreeGraph.of_result(result, size_of=_wheel_size), result.source
    if invert is not None:
        graph = graph.inverted(invert)
    trees = walk(graph, depth=depth)
    if json_output:
        print_json(
            {
                "tree": to_json(trees, inverse=graph.inverse),
                "invert": invert,
                "depth": depth,
                "source": source,
            }
        )
        return
    lines = render(
        trees, size=human_size, color=use_color(sys.stdout), mark_requested=graph.inverse
    )
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    info(summary(graph, human_size) + (f"; read from {source}" if source else ""))


def _resolve(
    ctx: CommandContext,
    ids: list[str] | None,
    input_file: Path | None,
    *,
    dev: bool,
    pre: bool,
    offline: bool,
    enabled: bool,
    private_only: bool,
    public: tuple[Path | None, str | None, list[str] | None, list[str] | None],
) -> RunResult:
    """The graph as ``download`` resolves it, through ``Run.plan``."""
    from pipper.cli.runs import public_config, with_run
    from pipper.specs import gather_requested

    requested = gather_requested(ids or [], input_file, dev=dev, goal="show")

    async def work(opened: Run) -> RunResult:
        return await opened.plan(requested.ids, requirements=requested.pypi)

    return with_run(
        ctx,
        "Resolving",
        work,
        enabled=enabled,
        offline=offline,
        pre=pre,
        public=public_config(private_only, *public),
    )


def _from_lock(
    ctx: CommandContext,
    lock_file: Path,
    ids: list[str] | None,
    input_file: Path | None,
    dev: bool,
    pre: bool,
    private_only: bool,
) -> tuple[TreeGraph, str]:
    """The lock's graph; the cache is only looked at (which blobs it holds), never changed."""
    from pipper.cli.runs import check_lock_alone
    from pipper.lock import read_lock
    from pipper.tree import TreeGraph

    check_lock_alone(ids, input_file, dev=dev, pre=pre)
    lock = read_lock(lock_file)
    cache = ctx.cache

    def cached(digest: str) -> int | None:
        """The size of a regular file where the blob would be (not rehashed: a look only)."""
        try:
            found = cache.blob_path(digest).lstat()
        except (OSError, ValueError):
            return None
        return found.st_size if stat.S_ISREG(found.st_mode) else None

    graph = TreeGraph.of_lock(lock, cached=cached, private_only=private_only)
    return graph, str(lock_file)


def _wheel_size(wheel: PublicPackage) -> int | None:
    if wheel.path is None:
        return None
    try:
        return wheel.path.stat().st_size
    except OSError:
        return None
