"""``pipper cache``: where the cache is, what it holds, filling it, checking it, pruning it.

``warm`` is the step before an offline build: it fills the cache (from ids, an input file or a
lock) and writes nothing else, so a later ``--offline`` run needs no network. ``prune`` takes the
cache's exclusive lock, so it waits for running pipper processes instead of pulling entries out
from under them (see ``pipper.cache``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli.base import PipperGroup, app
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
    PreOption,
    PrivateOnlyOption,
    context,
    with_repository,
)
from pipper.cli.output import err, human_size, info, print_json, result_json, summary
from pipper.errors import PipperError, UsageError

if TYPE_CHECKING:
    from pipper.cache import Cache
    from pipper.context import RepositoryOptions

cache_app = typer.Typer(
    name="cache",
    cls=PipperGroup,
    help="Inspect, fill, check and prune the local cache of bundles.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")

DAY = 24 * 3600.0


@cache_app.command("dir")
def cache_dir_command(cache_dir: CacheDirOption = None) -> None:
    """Print the cache directory."""
    typer.echo(str(_open_cache(cache_dir).root))


@cache_app.command("info")
def cache_info(cache_dir: CacheDirOption = None, json_output: JsonOption = False) -> None:
    """Show the entries, their total size and how they split between repositories."""
    stats = _open_cache(cache_dir).stats()
    if json_output:
        print_json(
            {
                "directory": str(stats.root),
                "entries": stats.entries,
                "size": stats.size,
                "repositories": [
                    {"repository": r.repository, "entries": r.entries, "size": r.size}
                    for r in stats.repositories
                ],
                "unindexed": {"entries": stats.unindexed_entries, "size": stats.unindexed_size},
                "listings": stats.listings,
                "temporary": {"files": stats.tmp_files, "size": stats.tmp_size},
                "extracted_wheels": {"entries": stats.extracted, "size": stats.extracted_size},
            }
        )
        return
    lines = [
        f"Cache: {stats.root}",
        f"Entries: {stats.entries} ({human_size(stats.size)})",
    ]
    for usage in stats.repositories:
        lines.append(f"  {usage.repository}: {usage.entries} ({human_size(usage.size)})")
    if stats.unindexed_entries:
        lines.append(
            f"  (no repository recorded): {stats.unindexed_entries} "
            f"({human_size(stats.unindexed_size)})"
        )
    lines.append(f"Remembered listings: {stats.listings}")
    if stats.extracted:
        lines.append(
            f"Extracted wheels (for pip and uv): {stats.extracted} "
            f"({human_size(stats.extracted_size)})"
        )
    if stats.tmp_files:
        lines.append(f"Temporary files: {stats.tmp_files} ({human_size(stats.tmp_size)})")
    typer.echo("\n".join(lines))


@cache_app.command("warm")
@with_repository
def cache_warm(
    ids: IdsArgument = None,
    input_file: InputOption = None,
    lock_file: LockOption = None,
    dev: DevOption = False,
    pre: PreOption = False,
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
    """Download into the cache only, public wheels included: the step before an offline build.

    Examples: pipper cache warm -i pipper.json; pipper cache warm --lock pipper.lock
    """
    from pipper.cli.runs import check_lock_alone, fetch_lock, public_config, resolve_graph
    from pipper.specs import gather_requested

    ctx = context(repo, cache_dir=cache_dir, concurrency=concurrency)
    public = public_config(private_only, python, index_url, extra_index_url, find_links)
    if lock_file is not None:
        check_lock_alone(ids, input_file, dev=dev, pre=pre)
        result = fetch_lock(ctx, lock_file, "Warming", enabled=not json_output, public=public)
    else:
        requested = gather_requested(ids or [], input_file, dev=dev)
        result = resolve_graph(
            ctx,
            requested.ids,
            "Warming",
            enabled=not json_output,
            pre=pre,
            requirements=requested.pypi,
            public=public,
        )
    root = ctx.cache.root
    if json_output:
        print_json(result_json(result, {"cache": str(root)}))
    else:
        info(summary(result, "Cached", f" in {root}"))


def _open_cache(cache_dir: Path | None) -> Cache:
    return context(cache_dir=cache_dir).cache


@cache_app.command("verify")
def cache_verify(cache_dir: CacheDirOption = None) -> None:
    """Rehash every entry; remove and report the damaged ones (exit 1 if there were any)."""
    cache = _open_cache(cache_dir)
    if not cache.root.exists():
        info(f"Nothing to verify: {cache.root} does not exist")
        return
    cache.check_removable()  # before the lock file is made in a folder that is no cache
    hold = cache.lock.wait_hold(exclusive=False, timeout=600, on_wait=_waiting_for_prune)
    if hold is None:
        raise PipperError("the cache stayed locked by 'pipper cache prune'; nothing was verified")
    with hold:
        report = cache.verify_all()
    for entry in report.damaged:
        err(f"damaged: {entry.digest} ({human_size(entry.size)}): removed")
    for wheel in report.extracted_damaged:
        err(f"damaged: extracted wheel {wheel.digest}/{wheel.name}: removed")
    wheels = report.extracted_checked
    if report.damaged or report.extracted_damaged:
        broken = len(report.extracted_damaged)
        also = f" and {broken} of {wheels} extracted wheels" if broken else ""
        raise PipperError(
            f"{len(report.damaged)} of {report.checked} cache entries{also} were damaged and "
            "were removed; they will be downloaded (or extracted) again when next needed"
        )
    also = f" and {wheels} extracted wheels" if wheels else ""
    info(f"All {report.checked} cache entries{also} are intact ({human_size(report.size)})")


@cache_app.command("prune")
def cache_prune(
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            metavar="DAYS",
            min=0,
            help="Remove entries no pipper run has used for this many days (a use is seen to "
            "within an hour).",
            show_default=False,
        ),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Remove every entry, index record and listing.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            metavar="SECONDS",
            min=0,
            help="How long to wait for other pipper processes using the cache. (default: 300)",
        ),
    ] = 300,
    cache_dir: CacheDirOption = None,
) -> None:
    """Remove cache entries; safe while other pipper processes run (it waits for them).

    With neither option only leftovers go: temporary files older than a day, and the index
    records and extracted wheels of entries that are gone.

    Examples: pipper cache prune --older-than 30; pipper cache prune --all
    """
    if everything and older_than is not None:
        raise UsageError("give --older-than DAYS or --all, not both")
    cache = _open_cache(cache_dir)
    if not cache.root.exists():
        info(f"Nothing to prune: {cache.root} does not exist")
        return
    cache.check_removable()
    hold = cache.lock.wait_hold(exclusive=True, timeout=wait, on_wait=_waiting_for_others)
    if hold is None:
        raise PipperError(
            f"other pipper processes were still using the cache after {wait:.0f} s; "
            "nothing was pruned (try again, or pass a longer --wait)"
        )
    with hold:
        report = cache.prune(
            older_than=older_than * DAY if older_than is not None else None,
            everything=everything,
        )
    extras = [
        f"{count} {what}"
        for count, what in (
            (report.tmp_files, "temporary files"),
            (report.listings, "listings"),
            (report.records, "index records"),
            (report.extracted, "extracted wheels"),
            (report.damaged, "damaged entries (not regular files)"),
        )
        if count
    ]
    more = f", {', '.join(extras)}" if extras else ""
    info(
        f"Removed {report.entries} entries ({human_size(report.size)}){more}; "
        f"kept {report.kept} ({human_size(report.kept_size)})"
    )


def _waiting_for_others(count: int | None) -> None:
    who = (
        f"{count} other pipper process{'es' if count != 1 else ''}"
        if count
        else "other pipper processes"
    )
    info(f"waiting for {who} using the cache to finish...")


def _waiting_for_prune(count: int | None) -> None:
    info("waiting for 'pipper cache prune' to finish...")
