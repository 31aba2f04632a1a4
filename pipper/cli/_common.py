"""What every command shares: the Typer app, repository options, output, errors -> exit codes.

Commands stay thin: they parse options, call the core and render. The repository and credential
options are added to a command's signature by ``with_repository`` so that all commands spell and
document them the same way, and ``PipperGroup`` turns any ``PipperError`` into one line on stderr
and its exit code, wherever in the command tree it was raised.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sys
import traceback
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from pipper.errors import PipperError, UsageError

if TYPE_CHECKING:
    from pipper.cache import Cache
    from pipper.config import Credentials, Repository
    from pipper.session import RunResult, Session
    from pipper.specs import PackageId

T = TypeVar("T")

log = logging.getLogger("pipper")

_state = {"debug": False, "quiet": False}


def err(message: str) -> None:
    """One line on stderr (progress and messages never go to stdout, which --json owns)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def info(message: str) -> None:
    if not _state["quiet"]:
        err(message)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname.lower()
        err(f"{level}: {record.getMessage()}")


def configure(debug: bool, quiet: bool) -> None:
    _state["debug"] = debug
    _state["quiet"] = quiet
    logger = logging.getLogger("pipper")
    logger.handlers[:] = [_StderrHandler()]
    logger.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING)
    logger.propagate = False


class PipperGroup(TyperGroup):
    """Runs a command and turns a ``PipperError`` into one line and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PipperError as exc:
            if _state["debug"]:
                traceback.print_exc()
            err(f"error: {exc.message}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err("error: interrupted")
            raise typer.Exit(130) from None
        except OSError as exc:
            if _state["debug"]:
                traceback.print_exc()
            where = f": {exc.filename}" if exc.filename else ""
            err(f"error: {exc.strerror or type(exc).__name__}{where}")
            raise typer.Exit(1) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")):
                raise  # Typer's own control flow: --help, usage errors, Exit
            if _state["debug"]:
                traceback.print_exc()
            err(f"error: unexpected {type(exc).__name__} (run with --debug for the traceback)")
            raise typer.Exit(1) from None


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """The one event loop of a command (asyncio: aiobotocore needs it)."""
    import anyio

    return anyio.run(coro_fn, backend="asyncio")


# -- repository options ---------------------------------------------------------------------


@dataclass(frozen=True)
class RepoOptions:
    bucket: str | None
    root_prefix: str | None
    repository: str | None
    endpoint_url: str | None
    region: str | None
    credentials: tuple[str, str, str] | None
    profile: str | None

    def resolve(self) -> Repository:
        from pipper.config import resolve_repository

        repo = resolve_repository(
            bucket=self.bucket,
            root_prefix=self.root_prefix,
            repository=self.repository,
            endpoint_url=self.endpoint_url,
            region=self.region,
        )
        if repo.is_default_local:
            info(f"using the default local repository {repo.local_path} (no bucket configured)")
        return repo

    def credentials_for(self, repository: Repository) -> Credentials:
        from pipper.config import resolve_credentials

        creds = resolve_credentials(
            credentials=self.credentials, profile=self.profile, repository=repository
        )
        log.debug("credentials: %s", creds.describe())
        return creds


_REPO_PANEL = "Repository"
_REPO_PARAMS: list[tuple[str, Any]] = [
    (
        "bucket",
        Annotated[
            str | None,
            typer.Option(
                "-b",
                "--bucket",
                help="S3 bucket, or a local directory repository: a path (./repo, /srv/repo, "
                "~/repo) or a file:// URL. (env: PIPPER_BUCKET)",
                rich_help_panel=_REPO_PANEL,
                show_default=False,
            ),
        ],
    ),
    (
        "root_prefix",
        Annotated[
            str | None,
            typer.Option(
                "--root-prefix",
                "--prefix",
                help="Key prefix the packages live under (may contain '/'). (default: pipper)",
                rich_help_panel=_REPO_PANEL,
                show_default=False,
            ),
        ],
    ),
    (
        "repository",
        Annotated[
            str | None,
            typer.Option(
                "-r",
                "--repository",
                help="A saved repository (see 'pipper repository').",
                rich_help_panel=_REPO_PANEL,
                show_default=False,
            ),
        ],
    ),
    (
        "endpoint_url",
        Annotated[
            str | None,
            typer.Option(
                "--endpoint-url",
                help="S3-compatible endpoint (MinIO, SeaweedFS, Ceph, R2). "
                "(env: AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3)",
                rich_help_panel=_REPO_PANEL,
                show_default=False,
            ),
        ],
    ),
    (
        "region",
        Annotated[
            str | None,
            typer.Option("--region", help="AWS region of the bucket.", rich_help_panel=_REPO_PANEL),
        ],
    ),
    (
        "credentials",
        Annotated[
            tuple[str, str, str] | None,
            typer.Option(
                "-c",
                "--credentials",
                metavar="KEY SECRET TOKEN",
                help="AWS access key, secret and session token ('*' for no token).",
                rich_help_panel=_REPO_PANEL,
                show_default=False,
            ),
        ],
    ),
    (
        "profile",
        Annotated[
            str | None,
            typer.Option(
                "-p", "--profile", help="AWS profile to use.", rich_help_panel=_REPO_PANEL
            ),
        ],
    ),
]


def with_repository(func: Callable[..., T]) -> Callable[..., T]:
    """Add the repository and credential options to a command; it receives them as ``repo``."""
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func, include_extras=True)
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
        return func(*args, repo=RepoOptions(**values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
    return wrapper


# -- shared options and helpers -------------------------------------------------------------

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


def open_cache(cache_dir: Path | None) -> Cache:
    from pipper.cache import Cache
    from pipper.config import cache_dir as default_cache_dir

    return Cache(cache_dir.expanduser().absolute() if cache_dir else default_cache_dir())


def concurrency_from(value: int | None) -> int:
    if value is not None:
        return value
    env = os.environ.get("PIPPER_CONCURRENCY", "").strip()
    if not env:
        return 32
    try:
        number = int(env)
    except ValueError:
        raise UsageError(f"PIPPER_CONCURRENCY must be a whole number, not {env!r}") from None
    if not 1 <= number <= 1024:
        raise UsageError("PIPPER_CONCURRENCY must be between 1 and 1024")
    return number


def gather_ids(ids: Iterable[str], input_file: Path | None, *, dev: bool) -> list[PackageId]:
    """Package ids from the command line and/or ``-i``; ``./pipper.json`` when neither is given."""
    from pipper.specs import load_input, merge_ids, parse_package_ids

    found = parse_package_ids(ids)
    path = input_file
    if path is None and not found:
        default = Path("pipper.json")
        if not default.is_file():
            raise UsageError("nothing to do: give package ids or -i FILE (no ./pipper.json here)")
        path = default
    if path is not None:
        found.extend(load_input(path).ids(dev))
    if not found:
        raise UsageError(f"{path} lists no dependencies")
    return merge_ids(found)


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def open_session(
    repo: RepoOptions,
    *,
    cache_dir: Path | None,
    concurrency: int | None,
    offline: bool = False,
    pre: bool = False,
    repository: Repository | None = None,
    installed: Mapping[str, str] | None = None,
) -> Session:
    """The run's ``Session``: repository, credentials (none offline or for a local directory)
    and cache, from the options every resolving command shares."""
    from pipper.session import Session

    repository = repository or repo.resolve()
    credentials = None if offline or repository.is_local else repo.credentials_for(repository)
    return Session(
        repository,
        open_cache(cache_dir),
        credentials=credentials,
        concurrency=concurrency_from(concurrency),
        offline=offline,
        pre=pre,
        installed=installed,
    )


def resolve_with_progress(
    session: Session, ids: Sequence[PackageId], label: str, *, enabled: bool = True
) -> RunResult:
    """Resolve and download ``ids``, drawing progress on a terminal."""
    from pipper.cli._progress import progress_for

    with progress_for(label, enabled=enabled) as progress:
        session.progress = progress
        return run(lambda: session.resolve(ids))
