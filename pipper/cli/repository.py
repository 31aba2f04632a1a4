"""``pipper repository``: saved repositories in ~/.pipper/repositories.json."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pipper.cli.base import PipperGroup, app
from pipper.cli.options import (
    JsonOption,
    SavedBucketOption,
    SavedEndpointOption,
    SavedPrefixOption,
    SavedProfileOption,
    SavedRegionOption,
    read_credentials,
)
from pipper.cli.output import info, print_json

repository_app = typer.Typer(
    cls=PipperGroup,
    help="Save, change and remove named repositories (bucket, prefix, endpoint, credentials).",
    no_args_is_help=True,
)
app.add_typer(repository_app, name="repository")

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The repository's name.")]
SavedKeysOption = Annotated[
    tuple[str, str, str] | None,
    typer.Option(
        "-c",
        "--credentials",
        metavar="KEY SECRET TOKEN",
        help="Keys to save with the repository ('*' for no token); the file is made private. "
        "Give SECRET (and TOKEN) as '-' to read it from standard input.",
        show_default=False,
    ),
]
DefaultOption = Annotated[
    bool, typer.Option("--default", help="Use this repository when none is named.")
]


def _keys(given: tuple[str, str, str] | None) -> dict[str, Any]:
    from pipper.settings import clean_token

    credentials = read_credentials(given)
    if credentials is None:
        return {}
    key, secret, token = credentials
    return {"access_key_id": key, "secret_access_key": secret, "session_token": clean_token(token)}


@repository_app.command("add")
def add(
    name: NameArgument,
    bucket: SavedBucketOption = None,
    root_prefix: SavedPrefixOption = None,
    profile: SavedProfileOption = None,
    credentials: SavedKeysOption = None,
    endpoint_url: SavedEndpointOption = None,
    region: SavedRegionOption = None,
    default: DefaultOption = False,
) -> None:
    """Save a repository. Example: pipper repository add team -b team-bucket --default"""
    from pipper.errors import UsageError
    from pipper.locations import DEFAULT_PREFIX
    from pipper.saved import RepositoryStore, SavedRepository

    if not bucket:
        raise UsageError("a repository needs -b/--bucket (a bucket name or a local directory)")
    store = RepositoryStore()
    saved = SavedRepository(
        bucket=bucket,
        root_prefix=root_prefix or DEFAULT_PREFIX,
        profile=profile,
        endpoint_url=endpoint_url,
        region=region,
        **_keys(credentials),
    )
    store.add(name, saved, default=default)
    store.save()
    info(f"Saved repository {name!r}" + (" as the default" if default else ""))


@repository_app.command("modify")
def modify(
    name: NameArgument,
    bucket: SavedBucketOption = None,
    root_prefix: SavedPrefixOption = None,
    profile: SavedProfileOption = None,
    credentials: SavedKeysOption = None,
    endpoint_url: SavedEndpointOption = None,
    region: SavedRegionOption = None,
    default: DefaultOption = False,
) -> None:
    """Change the given fields of a saved repository."""
    from pipper.saved import RepositoryStore

    store = RepositoryStore()
    changes = {
        key: value
        for key, value in {
            "bucket": bucket,
            "root_prefix": root_prefix,
            "profile": profile,
            "endpoint_url": endpoint_url,
            "region": region,
            **_keys(credentials),
        }.items()
        if value is not None or (credentials is not None and key == "session_token")
    }
    store.modify(name, default=default, **changes)
    store.save()
    info(f"Updated repository {name!r}")


@repository_app.command("remove")
def remove(name: NameArgument) -> None:
    """Remove a saved repository (and its saved keys)."""
    from pipper.saved import RepositoryStore

    store = RepositoryStore()
    store.remove(name)
    store.save()
    info(f"Removed repository {name!r}")


@repository_app.command("list")
def list_repositories(json_output: JsonOption = False) -> None:
    """The saved repositories; the default is marked with '*'. Secrets are never shown."""
    from pipper.keys import mask_url, printable
    from pipper.saved import RepositoryStore

    store = RepositoryStore()
    rows = []
    for name in store.names():
        saved = store.get(name)
        rows.append(
            {
                "name": name,
                "default": name == store.default,
                "bucket": saved.bucket,
                "root_prefix": saved.root_prefix,
                "profile": saved.profile,
                # A hand-written (or older) file may hold user info in the URL.
                "endpoint_url": mask_url(saved.endpoint_url) if saved.endpoint_url else None,
                "region": saved.region,
                "has_keys": bool(saved.access_key_id),
            }
        )
    if json_output:
        print_json(rows)
        return
    if not rows:
        info(f"no saved repositories in {store.path}")
    for row in rows:
        mark = "*" if row["default"] else " "
        extra = f" profile={row['profile']}" if row["profile"] else ""
        extra += " (keys saved)" if row["has_keys"] else ""
        line = f"{mark} {row['name']:<20} {row['bucket']}/{row['root_prefix']}{extra}"
        typer.echo(printable(line))


@repository_app.command("exists")
def exists(name: NameArgument) -> None:
    """Exit 0 when NAME is saved, 1 when it is not (for scripts)."""
    from pipper.saved import RepositoryStore

    found = RepositoryStore().exists(name)
    typer.echo("yes" if found else "no")
    raise typer.Exit(0 if found else 1)
