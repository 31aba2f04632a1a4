"""``pipper publish``: upload bundles to the repository."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipper.cli.base import app, run
from pipper.cli.options import JsonOption, context, with_repository
from pipper.cli.output import error, human_size, info, print_json

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.publish import AlreadyPublishedError


@app.command()
@with_repository
def publish(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            help="A .pipper bundle, several, or a folder whose bundles are all published.",
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a version that is already published.")
    ] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="A version that is already published is a note, not an error (as in twine).",
        ),
    ] = False,
    no_index: Annotated[
        bool,
        typer.Option(
            "--no-index",
            help="Leave the repository's simple index (<prefix>/~simple/, for uv and pip) alone.",
        ),
    ] = False,
    json_output: JsonOption = False,
    *,
    repo: RepositoryOptions,
) -> None:
    """Publish bundles; a wheel that exists is refused unless --force or --skip-existing.

    A bundle of another wheel of a version that exists (a platform wheel beside the pure one,
    cp312 beside cp311) is added to that version; the others stay as they are.

    Every new bundle of a folder is published even when some are already there; the command
    fails (exit 8) only when a bundle was refused. Each wheel also goes into the repository's
    simple index, which uv and pip install from (see 'pipper index').

    Example: pipper publish dist/ -b my-bucket
    """
    from pipper.errors import PipperError, UsageError, VersionExistsError
    from pipper.keys import is_pure_wheel, local_tag_part
    from pipper.publish import AlreadyPublishedError, Published, bundles_in
    from pipper.publish import publish as publish_one

    if force and skip_existing:
        raise UsageError("--force replaces what --skip-existing leaves: choose one")
    bundles = list(dict.fromkeys(b for path in paths for b in bundles_in(path)))
    bundles.sort(key=lambda b: local_tag_part(b.name) is not None)  # each pure wheel first
    ctx = context(repo)
    where = ctx.repository.describe()

    async def go() -> tuple[list[Published], list[AlreadyPublishedError]]:
        done: list[Published] = []
        existing: list[AlreadyPublishedError] = []
        async with ctx.open_storage(create=True) as storage:
            for bundle in bundles:
                try:
                    result = await publish_one(
                        storage, ctx.repository, bundle, force=force, index=not no_index
                    )
                except AlreadyPublishedError as exc:
                    existing.append(exc)
                    if skip_existing or len(bundles) > 1:
                        verb = "Skipped" if skip_existing else "Refused"
                        what = f"{exc.name} {exc.version}" + (
                            f" ({exc.wheel})" if exc.wheel else ""
                        )
                        info(f"{verb} {what}: already published as {exc.key}")
                    continue
                wheel = "" if is_pure_wheel(result.wheel) else f"{result.wheel}, "
                info(
                    f"Published {result.name} {result.version} ({wheel}"
                    f"{human_size(result.size)}) "
                    f"to {result.key} in {where}" + (" (replaced)" if result.replaced else "")
                )
                if result.index_error:
                    error(
                        f"{result.name} {result.version} is not in the simple index: "
                        f"{result.index_error}",
                        "warning",
                    )
                done.append(result)
        return done, existing

    done, existing = run(go)
    if json_output:
        print_json(_json(done, existing, refused=not skip_existing))
    if existing and not skip_existing:
        raise VersionExistsError(_refusal(existing, len(bundles), where))
    unindexed = [p for p in done if p.index_error]
    if unindexed:
        names = ", ".join(f"{p.name} {p.version}" for p in unindexed)
        raise PipperError(
            f"published {names}, but the simple index of {where} was not updated for "
            f"{'it' if len(unindexed) == 1 else 'them'}: run 'pipper index rebuild'"
        )
    if existing:
        info(f"{len(existing)} already published, {len(done)} published now in {where}")


def _refusal(existing: list[AlreadyPublishedError], total: int, where: str) -> str:
    if total == 1:
        one = existing[0]
        what = f"{one.name} {one.version}" + (f" ({one.wheel})" if one.wheel else "")
        return (
            f"{what} is already published in {where} ({one.key}); pass "
            "--force to replace it or --skip-existing to leave it"
        )
    names = ", ".join(f"{e.name} {e.version}" for e in existing)
    return (
        f"{len(existing)} of {total} bundles are already published in {where} and were not "
        f"replaced ({names}); the others were published. Pass --skip-existing to leave them "
        "or --force to replace them"
    )


def _json(
    done: list[Any], existing: list[AlreadyPublishedError], *, refused: bool
) -> list[dict[str, Any]]:
    rows = [{**p.__dict__, "status": "replaced" if p.replaced else "published"} for p in done]
    status = "refused" if refused else "skipped"
    rows += [
        {"name": e.name, "version": e.version, "key": e.key, "status": status} for e in existing
    ]
    return rows
