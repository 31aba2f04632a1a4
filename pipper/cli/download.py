"""``pipper download``: resolve the graph and put every bundle in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipper.cli._common import (
    CacheDirOption,
    ConcurrencyOption,
    JsonOption,
    RepoOptions,
    gather_ids,
    human_size,
    info,
    open_session,
    print_json,
    resolve_with_progress,
    with_repository,
)
from pipper.cli.app import app

if TYPE_CHECKING:
    from pipper.session import RunResult

IdsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Package ids: NAME, NAME:CONSTRAINT (1.2.0, 1.*, >=1.0) or NAME==1.0 / "
        "NAME>=1.0,<2 requirement strings.",
        show_default=False,
    ),
]
InputOption = Annotated[
    Path | None,
    typer.Option(
        "-i",
        "--input",
        help="pipper.json or pipper.yaml listing dependencies. (default: ./pipper.json when "
        "no ids are given)",
        show_default=False,
    ),
]
DevOption = Annotated[bool, typer.Option("--dev", help="Include dev_dependencies of -i.")]
PreOption = Annotated[bool, typer.Option("--pre", help="Allow prerelease versions.")]
OfflineOption = Annotated[
    bool, typer.Option("--offline", help="Use only the cache; no network at all.")
]
LockOption = Annotated[
    Path | None,
    typer.Option(
        "--lock",
        help="Fetch exactly the packages of this lock file (see 'pipper lock'): no resolving, "
        "every sha256 checked, no request at all when the cache holds them.",
        show_default=False,
    ),
]


def result_json(result: RunResult, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved graph and timings, as ``--json`` prints them."""
    packages = [
        {
            "name": p.candidate.name,
            "version": p.candidate.version,
            "key": p.candidate.key,
            "sha256": p.digest,
            "size": p.candidate.size,
            "source": p.source,
            "dependencies": list(p.dependencies),
            "required_by": [r for r in p.required_by if r is not None],
            "file": p.filename,
        }
        for p in result.packages.values()
    ]
    return {
        "packages": packages,
        "depth": result.depth,
        "rounds": result.rounds,
        "requests": result.requests,
        "listings": result.listings,
        "retries": result.retries,
        "bytes_fetched": result.bytes_fetched,
        "timings": result.timings,
        **(extra or {}),
    }


def summary(result: RunResult, verb: str, where: str = "") -> str:
    cached = len(result.packages) - result.from_network
    retries = f", {result.retries} retried transfers" if result.retries else ""
    return (
        f"{verb} {len(result.packages)} packages{where} "
        f"({cached} from cache, {result.from_network} fetched, "
        f"{human_size(result.bytes_fetched)}{retries}) in {result.timings['total']:.2f}s"
    )


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
    *,
    repo: RepoOptions,
) -> None:
    """Resolve the dependency graph and download every bundle into a folder.

    Example: pipper download -i pipper.json -d ./vendor
    """
    from pipper.session import export

    if lock_file is not None:
        from pipper.cli.lock import check_lock_alone, download_from_lock

        check_lock_alone(ids, input_file, dev=dev, pre=pre)
        download_from_lock(
            lock_file,
            repo,
            directory=directory,
            extract=extract,
            offline=offline,
            concurrency=concurrency,
            cache_dir=cache_dir,
            json_output=json_output,
        )
        return
    package_ids = gather_ids(ids or [], input_file, dev=dev)
    session = open_session(
        repo, cache_dir=cache_dir, concurrency=concurrency, offline=offline, pre=pre
    )
    result = resolve_with_progress(session, package_ids, "Downloading", enabled=not json_output)
    target = (directory or Path.cwd()).expanduser()
    export(result.packages, target, extract=extract)
    session.close()
    if json_output:
        print_json(result_json(result, {"directory": str(target)}))
    else:
        info(summary(result, "Downloaded", f" into {target}"))
