"""The run every resolving command makes: resolve (or fetch a lock) with progress on a terminal.

``download``, ``lock``, ``cache warm``, ``authorize`` and ``install`` all go through here, so they
build their run the same way and show the same progress. ``after`` is called with the result
while the run still holds the cache, because the result's paths point into it: that is where a
command links, copies or installs the files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pipper.cli.base import run
from pipper.cli.progress import progress_for
from pipper.errors import UsageError

if TYPE_CHECKING:
    from pipper.context import CommandContext
    from pipper.lock import Lock
    from pipper.models import LocalSource, RunResult
    from pipper.platforms import TargetSpec
    from pipper.public import InstallSight, PublicConfig
    from pipper.run import Run
    from pipper.specs import PackageId

T = TypeVar("T")

__all__ = ["check_lock_alone", "fetch_lock", "public_config", "resolve_graph", "with_run"]


def with_run(
    ctx: CommandContext,
    label: str | None,
    work: Callable[[Run], Awaitable[T]],
    *,
    enabled: bool = True,
    offline: bool = False,
    pre: bool = False,
    installed: Mapping[str, str] | None = None,
    local: LocalSource | None = None,
    remote: bool = True,
    lock: Lock | None = None,
    public: PublicConfig | None = None,
    target: TargetSpec | None = None,
) -> T:
    """Open a run of ``ctx`` (over the lock's repository for a lock), do ``work`` in it.

    Progress is drawn under ``label``; with no label, ``work`` draws its own (``install`` stops
    drawing before pip starts printing).
    """
    with progress_for(label or "", enabled=enabled and label is not None) as progress:
        repository = ctx.repository_for_lock(lock, offline=offline) if lock is not None else None

        async def go() -> T:
            async with ctx.run(
                repository=repository,
                offline=offline,
                pre=pre,
                progress=progress,
                installed=installed,
                local=local,
                remote=remote,
                public=public,
                target=target,
            ) as opened:
                return await work(opened)

        return run(go)


def resolve_graph(
    ctx: CommandContext,
    ids: Sequence[PackageId],
    label: str,
    *,
    enabled: bool = True,
    offline: bool = False,
    pre: bool = False,
    after: Callable[[RunResult], None] | None = None,
    requirements: Sequence[str] = (),
    public: PublicConfig | None = None,
    target: TargetSpec | None = None,
) -> RunResult:
    """Resolve ``ids`` and ``requirements`` (``pypi`` entries) and fetch the graph;
    ``after(result)`` runs while the cache is held."""

    async def work(opened: Run) -> RunResult:
        result = await opened.resolve(ids, requirements=requirements)
        if after is not None:
            after(result)
        return result

    return with_run(
        ctx, label, work, enabled=enabled, offline=offline, pre=pre, public=public, target=target
    )


def fetch_lock(
    ctx: CommandContext,
    lock_file: Path,
    label: str,
    *,
    enabled: bool = True,
    offline: bool = False,
    after: Callable[[RunResult], None] | None = None,
    public: PublicConfig | None = None,
    target: TargetSpec | None = None,
) -> RunResult:
    """Fetch exactly the packages of ``lock_file``; ``after(result)`` as in ``resolve_graph``."""
    from pipper.lock import read_lock

    lock = read_lock(lock_file)

    async def work(opened: Run) -> RunResult:
        result = await opened.fetch_locked(lock)
        if after is not None:
            after(result)
        return result

    return with_run(
        ctx, label, work, enabled=enabled, offline=offline, lock=lock, public=public, target=target
    )


def public_config(
    private_only: bool,
    python: Path | None = None,
    index_url: str | None = None,
    extra_index_urls: Sequence[str] | None = None,
    find_links: Sequence[str] | None = None,
    *,
    install: InstallSight | None = None,
    wheel_dirs: Sequence[Path] = (),
) -> PublicConfig | None:
    """How the command resolves public requirements; ``None`` with ``--private-only``.

    ``python`` is the interpreter the graph is for, as ``--python`` names it (an install has
    already found it: ``install`` is then given too).
    """
    if private_only:
        return None
    from pipper.install import target_python
    from pipper.public import IndexOptions, PublicConfig

    return PublicConfig(
        python=python if install is not None else target_python(python),
        index=IndexOptions(index_url, tuple(extra_index_urls or ()), tuple(find_links or ())),
        install=install,
        wheel_dirs=tuple(wheel_dirs),
    )


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
