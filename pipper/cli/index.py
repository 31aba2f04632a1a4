"""``pipper index``: the repository's simple index (uv and pip install from it): check it against
the bundles, write it again from them, and say the URL and settings that reach it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipper.cli.base import PipperGroup, app, run
from pipper.cli.options import JsonOption, context, with_repository
from pipper.cli.output import info, print_json

if TYPE_CHECKING:
    from pipper.context import RepositoryOptions
    from pipper.repositories import Repository
    from pipper.simple.check import IndexReport

index_app = typer.Typer(
    name="index",
    cls=PipperGroup,
    help="The repository's simple index (<prefix>/~simple/): check it, rebuild it, its URL.",
    no_args_is_help=True,
)
app.add_typer(index_app, name="index")

_SHOWN = 50


@index_app.command("check")
@with_repository
def index_check(
    hashes: Annotated[
        bool,
        typer.Option(
            "--hashes", help="Also download every wheel and .metadata file and check its sha256."
        ),
    ] = False,
    json_output: JsonOption = False,
    *,
    repo: RepositoryOptions,
) -> None:
    """Report every difference between the bundles and the index; exit 12 when there is one.

    A bundle the index lacks (published by the original pipper, or with --no-index), one
    replaced, deleted or yanked since it was indexed, a missing wheel or page: each is a line.

    Example: pipper index check -b my-bucket
    """
    from pipper.errors import IndexDifferenceError
    from pipper.simple.check import compare

    ctx = context(repo)
    where = ctx.repository.describe()

    async def go() -> IndexReport:
        async with ctx.open_storage() as storage:
            return await compare(storage, ctx.repository, hashes=hashes)

    report = run(go)
    if json_output:
        print_json(_report_json(report))
    else:
        for difference in report.differences[:_SHOWN]:
            typer.echo(str(difference))
        if len(report.differences) > _SHOWN:
            typer.echo(f"... and {len(report.differences) - _SHOWN} more")
    if not report.current:
        raise IndexDifferenceError(
            f"the simple index of {where} differs from its bundles in "
            f"{len(report.differences)} places: run 'pipper index rebuild'"
        )
    info(
        f"The simple index of {where} is current: {report.files} wheels of {report.bundles} "
        f"bundles in {report.projects} projects"
    )


@index_app.command("rebuild")
@with_repository
def index_rebuild(json_output: JsonOption = False, *, repo: RepositoryOptions) -> None:
    """Write the index from the bundles: add what is missing, drop what is gone, fix the rest.

    Safe while others publish: every page is updated with a compare-and-swap write.

    Example: pipper index rebuild -b my-bucket
    """
    from pipper.errors import IndexDifferenceError
    from pipper.simple.check import RebuildResult, rebuild

    ctx = context(repo)
    where = ctx.repository.describe()

    async def go() -> RebuildResult:
        async with ctx.open_storage(create=True) as storage:
            return await rebuild(storage, ctx.repository)

    result = run(go)
    if json_output:
        print_json(
            {
                "indexed": result.indexed,
                "removed": result.removed,
                "pages_written": result.pages,
                "fixed": len(result.before.differences) - len(result.after.differences),
                "after": _report_json(result.after),
            }
        )
    for difference in result.after.differences[:_SHOWN]:
        typer.echo(f"still: {difference}")
    if not result.after.current:
        raise IndexDifferenceError(
            f"the simple index of {where} still differs from its bundles in "
            f"{len(result.after.differences)} places"
        )
    info(
        f"Rebuilt the simple index of {where}: {result.indexed} wheels indexed, "
        f"{result.removed} entries removed, {result.pages} pages written; "
        f"{result.after.files} wheels of {result.after.bundles} bundles"
    )


@index_app.command("url")
@with_repository
def index_url(*, repo: RepositoryOptions) -> None:
    """Print the index URL, and the settings uv needs to sign its requests to the bucket.

    Example: pipper index url -b my-bucket
    """
    ctx = context(repo)
    repository = ctx.repository
    if repository.local_path is not None:
        from pipper.keys import index_prefix

        typer.echo(
            f"{repository.local_path.absolute().as_uri()}/{index_prefix(repository.root_prefix)}"
        )
        return

    async def go() -> tuple[str, str | None]:
        from pipper.storage.s3 import S3Storage

        async with ctx.open_storage() as storage:
            assert isinstance(storage, S3Storage)
            return str(storage.client.meta.endpoint_url), storage.client.meta.region_name

    endpoint, region = run(go)
    for line in uv_settings(repository, endpoint, region):
        typer.echo(line)


def uv_settings(repository: Repository, endpoint: str, region: str | None) -> list[str]:
    """The lines ``index url`` prints: the variables uv signs with, and the install command."""
    from urllib.parse import urlsplit

    from pipper.keys import index_prefix

    parts = urlsplit(endpoint.rstrip("/"))
    prefix = index_prefix(repository.root_prefix)
    host = parts.netloc
    if host.endswith(".amazonaws.com") and region:
        signing = f"https://s3.{region}.amazonaws.com"
        url = f"https://{repository.bucket}.s3.{region}.amazonaws.com/{prefix}"
    else:
        signing = f"{parts.scheme}://{host}"
        url = f"{signing}{parts.path}/{repository.bucket}/{prefix}"
    lines = [f"export UV_S3_ENDPOINT_URL={signing}", "export UV_PREVIEW_FEATURES=s3-endpoint"]
    if region:
        lines.append(f"export AWS_REGION={region}")
    return [*lines, f"uv pip install --index-url {url} PACKAGE"]


def _report_json(report: IndexReport) -> dict[str, Any]:
    return {
        "current": report.current,
        "bundles": report.bundles,
        "files": report.files,
        "projects": report.projects,
        "differences": [
            {"project": d.project, "kind": d.kind, "detail": d.detail, "key": d.key}
            for d in report.differences
        ],
    }
