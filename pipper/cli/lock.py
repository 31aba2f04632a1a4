"""``pipper lock``: resolve once and write the graph down.

A ``--lock`` run of ``download``, ``install`` or ``cache warm`` then fetches exactly that, with no
listing (see ``pipper.cli.runs.fetch_lock``).
"""

from __future__ import annotations

import sys
from enum import StrEnum
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
    OfflineOption,
    PreOption,
    PrivateOnlyOption,
    context,
    with_repository,
)
from pipper.cli.output import info
from pipper.cli.target_options import (
    AbiOption,
    ImplementationOption,
    PlatformOption,
    PythonVersionOption,
    target_from,
)
from pipper.errors import UsageError

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.models import RunResult


class LockFormat(StrEnum):
    pipper = "pipper"
    pylock = "pylock"


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
    lock_format: Annotated[
        LockFormat,
        typer.Option(
            "--format",
            metavar="pipper|pylock",
            help="'pylock' also writes a PEP 751 pylock.toml of the whole closure beside the lock "
            "(private wheels in pylock-wheels/), for 'uv pip install -r pylock.toml'.",
        ),
    ] = LockFormat.pipper,
    private_only: PrivateOnlyOption = False,
    python: GraphPythonOption = None,
    index_url: IndexUrlOption = None,
    extra_index_url: ExtraIndexUrlOption = None,
    find_links: FindLinksOption = None,
    platform: PlatformOption = None,
    python_version: PythonVersionOption = None,
    implementation: ImplementationOption = None,
    abi: AbiOption = None,
    *,
    repo: RepositoryOptions,
) -> None:
    """Resolve the dependency graph and write it to a lock file.

    Where a version has several wheels, the lock records the one for the graph's interpreter
    (or for --platform/--python-version/--implementation/--abi) and the target it was made for.

    The lock holds every package's version, key, size and sha256, and every public wheel's
    version, file, URL and sha256: 'pipper download --lock' and 'pipper install --lock' then
    fetch exactly those bytes, with no resolving.

    Example: pipper lock -i pipper.json -o pipper.lock
    """
    from pipper.cli.runs import public_config, resolve_graph
    from pipper.keys import is_pure_wheel
    from pipper.lock import lock_from_packages, write_lock
    from pipper.publiclock import PYLOCK_FILE, LockedPublic, write_pylock
    from pipper.specs import gather_requested

    requested = gather_requested(ids or [], input_file, dev=dev)
    package_ids = requested.ids
    urls = [p for p in package_ids if p.url is not None]
    if urls:
        raise UsageError(
            f"{urls[0]} is a URL: a lock is resolved from a repository, so give package names"
        )
    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    public = public_config(private_only, python, index_url, extra_index_url, find_links)
    wheels_for = target_from(python, platform, python_version, implementation, abi)
    pylock = (Path.cwd() if str(output) == "-" else output.parent) / PYLOCK_FILE

    def write_standard(result: RunResult) -> None:
        """While the run holds the cache: the private wheels come out of its bundles."""
        if lock_format is LockFormat.pylock:
            wheels = [LockedPublic.of(p, index) for p in result.public.values()]
            write_pylock(pylock, result.packages, wheels)

    index = public.index.recorded if public is not None else None
    result = resolve_graph(
        ctx,
        package_ids,
        "Locking",
        offline=offline,
        pre=pre,
        after=write_standard,
        requirements=requested.pypi,
        public=public,
        target=wheels_for,
    )
    platform_wheels = any(
        p.meta is not None and not is_pure_wheel(p.meta.wheel_name)
        for p in result.packages.values()
    )
    lock = lock_from_packages(
        result.packages,
        ctx.repository,
        package_ids,
        public=result.public.values(),
        index_url=index,
        target=wheels_for().description if platform_wheels else None,
    )
    if str(output) == "-":
        sys.stdout.write(lock.dumps().decode())
        sys.stdout.flush()
        return
    write_lock(lock, output)
    public_part = f" and {len(lock.public)} public wheels" if lock.public else ""
    standard = f" (and {pylock})" if lock_format is LockFormat.pylock else ""
    info(
        f"Locked {len(lock.packages)} packages{public_part} from {ctx.repository.describe()} "
        f"into {output}{standard} in {result.timings['total']:.2f}s"
    )
