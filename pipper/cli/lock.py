"""``pipper lock``: resolve once and write the graph down.

A ``--lock`` run of ``download``, ``install`` or ``cache warm`` then fetches exactly that, with no
listing (see ``pipper.cli.runs.fetch_lock``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli.base import app
from pipper.cli.options import (
    CacheDirOption,
    ConcurrencyOption,
    DevOption,
    IdsArgument,
    InputOption,
    OfflineOption,
    PreOption,
    context,
    with_repository,
)
from pipper.cli.output import info
from pipper.errors import UsageError

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions


@app.command("lock")
@with_repository
def lock_command(
    ids: IdsArgument = None,
    input_file: InputOption = None,
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help="Where to write the lock ('-' for stdout). (default: pipper.lock)",
        ),
    ] = Path("pipper.lock"),
    dev: DevOption = False,
    pre: PreOption = False,
    offline: OfflineOption = False,
    concurrency: ConcurrencyOption = None,
    cache_dir: CacheDirOption = None,
    *,
    repo: RepositoryOptions,
) -> None:
    """Resolve the dependency graph and write it to a lock file.

    The lock holds every package's version, key, size and sha256: 'pipper download --lock' and
    'pipper install --lock' then fetch exactly those bytes, with no resolving.

    Example: pipper lock -i pipper.json -o pipper.lock
    """
    from pipper.cli.runs import resolve_graph
    from pipper.lock import lock_from_packages, write_lock
    from pipper.specs import gather_requested

    package_ids = gather_requested(ids or [], input_file, dev=dev).ids
    urls = [p for p in package_ids if p.url is not None]
    if urls:
        raise UsageError(
            f"{urls[0]} is a URL: a lock is resolved from a repository, so give package names"
        )
    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    result = resolve_graph(ctx, package_ids, "Locking", offline=offline, pre=pre)
    lock = lock_from_packages(result.packages, ctx.repository, package_ids)
    if str(output) == "-":
        sys.stdout.write(lock.dumps().decode())
        sys.stdout.flush()
        return
    write_lock(lock, output)
    info(
        f"Locked {len(lock.packages)} packages from {ctx.repository.describe()} into {output} "
        f"in {result.timings['total']:.2f}s"
    )
