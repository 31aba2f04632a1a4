"""``pipper download``: resolve the graph (or read a lock) and put every bundle in a folder."""

from __future__ import annotations

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
    LockOption,
    OfflineOption,
    PreOption,
    PrivateOnlyOption,
    context,
    with_repository,
)
from pipper.cli.output import info, print_json, result_json, summary
from pipper.cli.target_options import (
    AbiOption,
    AllPlatformsOption,
    ImplementationOption,
    PlatformOption,
    PythonVersionOption,
    target_from,
)

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.models import RunResult


@app.command()
@with_repository
def download(
    ids: IdsArgument = None,
    input_file: InputOption = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            "-d",
            "--directory",
            metavar="DIR",
            help="Folder for the .pipper files (created if missing). (default: .)",
            show_default=False,
        ),
    ] = None,
    dev: DevOption = False,
    pre: PreOption = False,
    extract: Annotated[
        bool,
        typer.Option(
            "--extract",
            help="Also write each wheel, so 'pip install --no-index --find-links DIR' works.",
        ),
    ] = False,
    offline: OfflineOption = False,
    concurrency: ConcurrencyOption = None,
    cache_dir: CacheDirOption = None,
    json_output: JsonOption = False,
    lock_file: LockOption = None,
    private_only: PrivateOnlyOption = False,
    python: GraphPythonOption = None,
    index_url: IndexUrlOption = None,
    extra_index_url: ExtraIndexUrlOption = None,
    find_links: FindLinksOption = None,
    platform: PlatformOption = None,
    python_version: PythonVersionOption = None,
    implementation: ImplementationOption = None,
    abi: AbiOption = None,
    all_platforms: AllPlatformsOption = False,
    *,
    repo: RepositoryOptions,
) -> None:
    """Resolve the dependency graph and download every bundle into a folder.

    Where a version has several wheels, the one for the graph's interpreter is taken, or the
    one for --platform/--python-version/--implementation/--abi, or all with --all-platforms.

    The public wheels the graph needs go there too: with --extract the folder holds every wheel,
    so 'pip install --no-index --find-links DIR APP' works with no network.

    Example: pipper download -i pipper.json -d ./vendor --extract
    """
    from pipper.cli.runs import check_lock_alone, fetch_lock, public_config, resolve_graph
    from pipper.export import export
    from pipper.specs import gather_requested

    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    target = (directory or Path.cwd()).expanduser()
    public = public_config(private_only, python, index_url, extra_index_url, find_links)
    wheels_for = target_from(python, platform, python_version, implementation, abi, all_platforms)

    def place(result: RunResult) -> None:
        export(
            result.packages,
            target,
            extract=extract,
            public=result.public.values(),
            more=result.more_wheels,
        )

    extra = {"directory": str(target)}
    if lock_file is not None:
        check_lock_alone(ids, input_file, dev=dev, pre=pre)
        result = fetch_lock(
            ctx,
            lock_file,
            "Downloading",
            enabled=not json_output,
            offline=offline,
            after=place,
            public=public,
            target=wheels_for,
        )
        extra["lock"] = str(lock_file)
        where = f" from {lock_file} into {target}"
    else:
        requested = gather_requested(ids or [], input_file, dev=dev)
        result = resolve_graph(
            ctx,
            requested.ids,
            "Downloading",
            enabled=not json_output,
            offline=offline,
            pre=pre,
            after=place,
            requirements=requested.pypi,
            public=public,
            target=wheels_for,
        )
        where = f" into {target}"
    if json_output:
        print_json(result_json(result, extra))
    else:
        info(summary(result, "Downloaded", where))
