"""Every option more than one command takes, declared once, and the command's context from them.

Each option names its value with a plain metavar and says its environment variable and default
in one style (:func:`~pipper.cli.help.described`); ``tests/test_conventions.py`` holds every help
page to that.

``with_repository`` adds the repository and credential options to a command's signature, so all
commands spell and document them the same way; the command receives them as ``repo`` and builds
its :class:`~pipper.context.CommandContext` with ``context(repo, ...)``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import typing
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from pipper.cli.help import described
from pipper.cli.output import info
from pipper.settings import DEFAULT_CONCURRENCY

if TYPE_CHECKING:
    from pipper.context import CommandContext, RepositoryOptions

T = TypeVar("T")

log = logging.getLogger(__name__)

_REPO_PANEL = "Repository"

# -- the repository ------------------------------------------------------------------------------


def _where(*decls: str, metavar: str, text: str, env: str | None, default: str | None) -> Any:
    return typer.Option(
        *decls,
        metavar=metavar,
        help=described(text, env=env, default=default),
        rich_help_panel=_REPO_PANEL,
    )


def _location_options(*, env: bool) -> dict[str, Any]:
    """``-b``, ``--root-prefix``, ``--endpoint-url``, ``--region``, ``-p``: with their
    environment variables for the commands that read them, without for ``repository add``."""

    def var(name: str) -> str | None:
        return name if env else None

    endpoint_vars = "PIPPER_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL"
    return {
        "bucket": Annotated[
            str | None,
            _where(
                "-b",
                "--bucket",
                metavar="NAME",
                text="S3 bucket (NAME or s3://NAME), or a local repository: a path starting "
                "with ./, ../, / or ~, or a file:// URL.",
                env=var("PIPPER_BUCKET"),
                default=None,
            ),
        ],
        "prefix": Annotated[
            str | None,
            _where(
                "--root-prefix",
                "--prefix",
                metavar="PREFIX",
                text="Key prefix the packages live under (may contain '/').",
                env=var("PIPPER_ROOT_PREFIX"),
                default="pipper",
            ),
        ],
        "endpoint": Annotated[
            str | None,
            _where(
                "--endpoint-url",
                metavar="URL",
                text="S3-compatible endpoint (MinIO, SeaweedFS, Ceph, R2).",
                env=endpoint_vars if env else None,
                default=None,
            ),
        ],
        "region": Annotated[
            str | None,
            _where(
                "--region",
                metavar="REGION",
                text="AWS region of the bucket.",
                env=var("PIPPER_REGION"),
                default=None,
            ),
        ],
        "profile": Annotated[
            str | None,
            _where(
                "-p",
                "--profile",
                metavar="NAME",
                text="AWS profile to use.",
                env=var("PIPPER_PROFILE"),
                default=None,
            ),
        ],
    }


_READ = _location_options(env=True)
_SAVED = _location_options(env=False)
BucketOption = _READ["bucket"]
PrefixOption = _READ["prefix"]
EndpointOption = _READ["endpoint"]
RegionOption = _READ["region"]
ProfileOption = _READ["profile"]
#: The same options for ``repository add`` and ``modify``, which save them and read no variable.
SavedBucketOption = _SAVED["bucket"]
SavedPrefixOption = _SAVED["prefix"]
SavedEndpointOption = _SAVED["endpoint"]
SavedRegionOption = _SAVED["region"]
SavedProfileOption = _SAVED["profile"]
RepositoryOption = Annotated[
    str | None,
    _where(
        "-r",
        "--repository",
        metavar="NAME",
        text="A saved repository (see 'pipper repository').",
        env="PIPPER_REPOSITORY",
        default=None,
    ),
]
CredentialsOption = Annotated[
    tuple[str, str, str] | None,
    typer.Option(
        "-c",
        "--credentials",
        metavar="KEY SECRET TOKEN",
        help=described(
            "AWS access key, secret and session token ('*' for no token). Give SECRET (and "
            "TOKEN) as '-' to read it from standard input: arguments are visible to other users.",
            env="PIPPER_AWS_ACCESS_KEY_ID, _SECRET_ACCESS_KEY, _SESSION_TOKEN",
        ),
        rich_help_panel=_REPO_PANEL,
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
        values["credentials"] = read_credentials(values["credentials"])
        return func(*args, repo=RepositoryOptions(**values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
    return wrapper


def read_credentials(given: tuple[str, str, str] | None) -> tuple[str, str, str] | None:
    """``-c`` with each ``-`` read from standard input; one warning when argv held a secret."""
    if given is None:
        return None
    from pipper.credentials import complete_credentials

    filled, typed = complete_credentials(given, _read_secret)
    if typed:
        log.warning(
            "-c/--credentials: a secret on the command line is visible to other users (ps, "
            "/proc); give it as '-' to read it from standard input, or set "
            "PIPPER_AWS_SECRET_ACCESS_KEY"
        )
    return filled


def _read_secret(what: str) -> str:
    """One line of standard input; asked for without echo when it is a terminal."""
    from pipper.errors import UsageError

    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        import getpass

        line = getpass.getpass(f"AWS {what}: ")
    else:
        line = stdin.readline() if stdin is not None else ""
    line = line.rstrip("\r\n")
    if not line.strip():
        raise UsageError(f"-c/--credentials: '-' asks for the {what} on standard input, none came")
    return line


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
        help="Package ids: NAME, NAME:CONSTRAINT (1.2.0, 1.*, >=1.0), NAME==1.0 / "
        "NAME>=1.0,<2 requirement strings, or bundle URLs.",
    ),
]
InputOption = Annotated[
    Path | None,
    typer.Option(
        "-i",
        "--input",
        metavar="FILE",
        help=described(
            "pipper.json or pipper.yaml listing dependencies.",
            default="./pipper.json when no ids are given",
        ),
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
        metavar="FILE",
        help="Fetch exactly the packages of this lock file (see 'pipper lock'): no resolving, "
        "every sha256 checked, no request at all when the cache holds them.",
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
        metavar="URL",
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
        metavar="URL",
        help="Another index for public packages, as for pip. Repeatable.",
        rich_help_panel=_PUBLIC_PANEL,
        show_default=False,
    ),
]
FindLinksOption = Annotated[
    list[str] | None,
    typer.Option(
        "--find-links",
        metavar="DIR|URL",
        help="A folder or URL of wheels for public packages, as for pip. Repeatable.",
        rich_help_panel=_PUBLIC_PANEL,
        show_default=False,
    ),
]
GraphPythonOption = Annotated[
    Path | None,
    typer.Option(
        "--python",
        metavar="PYTHON",
        help="The interpreter (or virtual environment) the graph is for: its markers and wheel "
        "tags choose each version's wheel and the public wheels. (default: the active virtual "
        "environment, else pipper's own Python)",
        rich_help_panel=_PUBLIC_PANEL,
        show_default=False,
    ),
]

# -- how to run ----------------------------------------------------------------------------------

CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help=described(
            "Cache directory.", env="PIPPER_CACHE_DIR", default="the user cache directory"
        ),
    ),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        metavar="N",
        min=1,
        max=1024,
        help=described(
            "S3 requests in flight at once, 1 to 1024.",
            env="PIPPER_CONCURRENCY",
            default=str(DEFAULT_CONCURRENCY),
        ),
    ),
]
PythonOption = Annotated[
    Path | None,
    typer.Option(
        "--python",
        metavar="PYTHON",
        help=described(
            "The environment to compare with: an interpreter, a command on PATH or a virtual "
            "environment's folder.",
            default="the active virtual environment, else pipper's own Python, as for "
            "'pipper install'",
        ),
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout and nothing else.")]


class InstallerChoice(StrEnum):
    pip = "pip"
    uv = "uv"


InstallerOption = Annotated[
    InstallerChoice | None,
    typer.Option(
        "--installer",
        metavar="pip|uv",
        help=described(
            "Which installer runs the one install call.", env="PIPPER_INSTALLER", default="pip"
        ),
    ),
]
