"""``pipper lock``, and the ``--lock FILE`` runs of ``download``, ``install`` and ``cache warm``.

``lock`` resolves once and writes the graph down; a ``--lock`` run fetches exactly that, with no
listing. The helpers here are what every ``--lock`` command shares, so they all pick the
repository, check the options and report the same way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipper.cli._common import (
    CacheDirOption,
    ConcurrencyOption,
    RepoOptions,
    gather_ids,
    info,
    open_session,
    resolve_with_progress,
    run,
    with_repository,
)
from pipper.cli.app import app
from pipper.cli.download import (
    DevOption,
    IdsArgument,
    InputOption,
    LockOption,
    OfflineOption,
    PreOption,
)
from pipper.errors import UsageError

if TYPE_CHECKING:
    from pipper.config import Repository
    from pipper.lock import Lock
    from pipper.session import Session

_ENDPOINT_VARS = ("PIPPER_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")

__all__ = [
    "LockOption",
    "check_lock_alone",
    "download_from_lock",
    "open_locked",
    "repository_for_lock",
]


def check_lock_alone(
    ids: list[str] | None, input_file: Path | None, *, dev: bool = False, pre: bool = False
) -> None:
    """A lock is the whole graph: ids, ``-i``, ``--dev`` and ``--pre`` have nothing to add."""
    given = {"package ids": bool(ids), "-i": input_file is not None, "--dev": dev, "--pre": pre}
    clashing = [flag for flag, present in given.items() if present]
    if clashing:
        raise UsageError(
            f"--lock fetches exactly the lock's packages: drop {' and '.join(clashing)} "
            "(or run 'pipper lock' with them)"
        )


def repository_for_lock(lock: Lock, repo: RepoOptions) -> Repository:
    """The repository the options (or the configuration) name; else the one the lock records.

    So ``pipper download --lock pipper.lock`` works on a machine with no repository configured,
    with nothing but credentials (or a warm cache). Options and the environment still win over
    what the lock records (an endpoint that reaches the same bucket from elsewhere, say).
    """
    from pipper.config import resolve_repository

    chosen = resolve_repository(
        bucket=repo.bucket,
        root_prefix=repo.root_prefix,
        repository=repo.repository,
        endpoint_url=repo.endpoint_url,
        region=repo.region,
    )
    if not chosen.is_default_local or lock.repository.same_place(chosen):
        return chosen
    recorded = lock.repository
    endpoint = repo.endpoint_url
    if endpoint is None and not any(os.environ.get(name, "").strip() for name in _ENDPOINT_VARS):
        endpoint = recorded.endpoint_url
    return resolve_repository(
        bucket=recorded.bucket or recorded.local_path,
        root_prefix=repo.root_prefix or recorded.root_prefix,
        repository=None,
        endpoint_url=endpoint,
        region=repo.region or recorded.region,
    )


def open_locked(
    lock_file: Path,
    repo: RepoOptions,
    *,
    cache_dir: Path | None,
    concurrency: int | None,
    offline: bool,
) -> tuple[Session, Lock]:
    """Read a lock and make the session that fetches it: ``run(lambda: s.fetch_locked(lock))``.

    Call ``session.close()`` once the files of the result are no longer used.
    """
    from pipper.lock import read_lock

    lock = read_lock(lock_file)
    session = open_session(
        repo,
        cache_dir=cache_dir,
        concurrency=concurrency,
        offline=offline,
        repository=repository_for_lock(lock, repo),
    )
    return session, lock


def download_from_lock(
    lock_file: Path,
    repo: RepoOptions,
    *,
    directory: Path | None,
    extract: bool,
    offline: bool,
    concurrency: int | None,
    cache_dir: Path | None,
    json_output: bool,
) -> None:
    """``pipper download --lock``: the lock's bundles into a folder."""
    from pipper.cli._common import print_json
    from pipper.cli._progress import progress_for
    from pipper.cli.download import result_json, summary
    from pipper.session import export

    session, lock = open_locked(
        lock_file, repo, cache_dir=cache_dir, concurrency=concurrency, offline=offline
    )
    try:
        with progress_for("Downloading", enabled=not json_output) as progress:
            session.progress = progress
            result = run(lambda: session.fetch_locked(lock))
        target = (directory or Path.cwd()).expanduser()
        export(result.packages, target, extract=extract)
    finally:
        session.close()
    if json_output:
        print_json(result_json(result, {"directory": str(target), "lock": str(lock_file)}))
    else:
        info(summary(result, "Downloaded", f" from {lock_file} into {target}"))


@app.command("lock")
@with_repository
def lock_command(
    ids: IdsArgument = None,
    input_file: InputOption = None,
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Where to write the lock ('-' for stdout)."),
    ] = Path("pipper.lock"),
    dev: DevOption = False,
    pre: PreOption = False,
    offline: OfflineOption = False,
    concurrency: ConcurrencyOption = None,
    cache_dir: CacheDirOption = None,
    *,
    repo: RepoOptions,
) -> None:
    """Resolve the dependency graph and write it to a lock file.

    The lock holds every package's version, key, size and sha256: 'pipper download --lock' and
    'pipper install --lock' then fetch exactly those bytes, with no resolving.

    Example: pipper lock -i pipper.json -o pipper.lock
    """
    from pipper.lock import lock_from_packages, write_lock

    package_ids = gather_ids(ids or [], input_file, dev=dev)
    urls = [p for p in package_ids if p.url is not None]
    if urls:
        raise UsageError(
            f"{urls[0]} is a URL: a lock is resolved from a repository, so give package names"
        )
    session = open_session(
        repo, cache_dir=cache_dir, concurrency=concurrency, offline=offline, pre=pre
    )
    try:
        result = resolve_with_progress(session, package_ids, "Locking")
    finally:
        session.close()
    lock = lock_from_packages(result.packages, session.repository, package_ids)
    if str(output) == "-":
        sys.stdout.write(lock.dumps().decode())
        sys.stdout.flush()
        return
    write_lock(lock, output)
    info(
        f"Locked {len(lock.packages)} packages from {session.repository.describe()} into {output} "
        f"in {result.timings['total']:.2f}s"
    )
