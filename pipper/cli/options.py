"""Every option more than one command takes, declared once, and the command's context from them.

``with_repository`` adds the repository and credential options to a command's signature, so all
commands spell and document them the same way; the command receives them as ``repo`` and builds
its :class:`~pipper.context.CommandContext` with ``context(repo, ...)``.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from pipper.cli.output import info

if TYPE_CHECKING:
    from pipper.context import CommandContext, RepositoryOptions

T = TypeVar("T")

_REPO_PANEL = "Repository"

# -- the repository ------------------------------------------------------------------------------

BucketOption = Annotated[
    str | None,
    typer.Option(
        "-b",
        "--bucket",
        help="S3 bucket, or a local directory repository: a path (./repo, /srv/repo, ~/repo) or "
        "a file:// URL. (env: PIPPER_BUCKET)",
        rich_help_panel=_REPO_PANEL,
        show_default=False,
    ),
]
PrefixOption = Annotated[
    str | None,
    typer.Option(
        "--root-prefix",
        "--prefix",
        help="Key prefix the packages live under (may contain '/'). "
        "(env: PIPPER_ROOT_PREFIX; default: pipper)",
        rich_help_panel=_REPO_PANEL,
        show_default=False,
    ),
]
RepositoryOption = Annotated[
    str | None,
    typer.Option(
        "-r",
        "--repository",
        help="A saved repository (see 'pipper repository').",
        rich_help_panel=_REPO_PANEL,
        show_default=False,
    ),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="S3-compatible endpoint (MinIO, SeaweedFS, Ceph, R2). "
        "(env: PIPPER_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)",
        rich_help_panel=_REPO_PANEL,
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="AWS region of the bucket.",
        rich_help_panel=_REPO_PANEL,
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "-p",
        "--profile",
        help="AWS profile to use.",
        rich_help_panel=_REPO_PANEL,
        show_default=False,
    ),
]
CredentialsOption = Annotated[
    tuple[str, str, str] | None,
    typer.Option(
        "-c",
        "--credentials",
        metavar="KEY SECRET TOKEN",
        help="AWS access key, secret and session token ('*' for no token).",
        rich_help_panel=_REPO_PANEL,
        show_default=False,
    ),
]

_REPO_PARAMS: list[tuple[str, Any]] = [
    ("bucket", BucketOption),
    ("root_prefix", PrefixOption),
    ("repository", RepositoryOption),
    ("endpoint_url", EndpointOption),
    ("region", RegionOption),
    ("credentials", CredentialsOption),
    ("profile", ProfileOption),
]


def with_repository(func: Callable[..., T]) -> Callable[..., T]:
    """Add the repository and credential options to a command; it receives them as ``repo``."""
    from pipper.context import RepositoryOptions

    signature = inspect.signature(func)
    # Commands name ``RepositoryOptions`` under TYPE_CHECKING only; resolve it here.
    hints = typing.get_type_hints(
        func, include_extras=True, localns={"RepositoryOptions": RepositoryOptions}
    )
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name != "repo"
    ]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        for name, annotation in _REPO_PARAMS
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        values = {name: kwargs.pop(name, None) for name, _ in _REPO_PARAMS}
        return func(*args, repo=RepositoryOptions(**values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
    return wrapper


def context(
    repo: RepositoryOptions | None = None,
    *,
    cache_dir: Path | None = None,
    concurrency: int | None = None,
) -> CommandContext:
    """The command's one ``CommandContext``; its notices go to stderr."""
    from pipper.context import CommandContext

    return CommandContext(repo, cache_dir=cache_dir, concurrency=concurrency, note=info)


# -- what to resolve -----------------------------------------------------------------------------

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
        help="Fetch exactly the packages of this lock file (see 'pipper lock'): no listing, "
        "every sha256 checked, no request at all when the cache holds them.",
        show_default=False,
    ),
]

# -- the public half of the graph ----------------------------------------------------------------

_PUBLIC_PANEL = "Public packages"

PrivateOnlyOption = Annotated[
    bool,
    typer.Option(
        "--private-only",
        help="Only the bundles' own 'dependencies': no wheel requirements, no public packages "
        "(pipper.json 'pypi' entries go to the installer as they are).",
        rich_help_panel=_PUBLIC_PANEL,
    ),
]
IndexUrlOption = Annotated[
    str | None,
    typer.Option(
        "--index-url",
        help="The index for public packages, as for pip. (default: pip's own configuration: "
        "PIP_INDEX_URL, pip.conf)",
        rich_help_panel=_PUBLIC_PANEL,
        show_default=False,
    ),
]
ExtraIndexUrlOption = Annotated[
    list[str] | None,
    typer.Option(
        "--extra-index-url",
        help="Another index for public packages, as for pip. Repeatable.",
        rich_help_panel=_PUBLIC_PANEL,
        show_default=False,
    ),
]
FindLinksOption = Annotated[
    list[str] | None,
    typer.Option(
        "--find-links",
        help="A folder or URL of wheels for public packages, as for pip. Repeatable.",
        rich_help_panel=_PUBLIC_PANEL,
        show_default=False,
    ),
]
GraphPythonOption = Annotated[
    Path | None,
    typer.Option(
        "--python",
        help="The interpreter (or virtual environment) the graph is for: its markers and wheel "
        "tags choose the public wheels. (default: the active virtual environment, else "
        "pipper's own Python)",
        rich_help_panel=_PUBLIC_PANEL,
        show_default=False,
    ),
]

# -- how to run ----------------------------------------------------------------------------------

CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Cache directory. (env: PIPPER_CACHE_DIR; default: the user cache directory)",
        show_default=False,
    ),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        min=1,
        max=1024,
        help="S3 requests in flight at once. (env: PIPPER_CONCURRENCY; default: 32)",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout and nothing else.")]
