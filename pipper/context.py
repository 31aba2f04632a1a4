"""One command's view of the world: settings, repository, credentials, cache, stores.

A ``CommandContext`` is built once per command from its options, the environment
(:class:`~pipper.settings.Settings`) and the saved repositories. Everything a command needs from
that world is asked of it, so every command answers "which repository", "which credentials" and
"which cache" the same way, and nothing else constructs a store or a run:

- ``open_storage()`` for commands that talk to the repository directly (publish, info, list);
- ``run()`` for commands that resolve and fetch (download, install, lock, cache warm,
  authorize): a :class:`~pipper.run.Run` owning the store, the cache hold and the task group.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from pipper.errors import ConfigError, NotFoundError
from pipper.settings import DEFAULT_CONCURRENCY, Settings, absolute

if TYPE_CHECKING:
    from pipper.cache import Cache
    from pipper.credentials import Credentials
    from pipper.lock import Lock
    from pipper.models import LocalSource, Progress
    from pipper.platforms import TargetSpec
    from pipper.project import ProjectSettings
    from pipper.public import PublicConfig
    from pipper.repositories import Repository, Resolved
    from pipper.run import Run
    from pipper.storage.base import Storage

__all__ = ["CommandContext", "RepositoryOptions"]

log = logging.getLogger(__name__)
V = TypeVar("V")


@dataclass(frozen=True)
class RepositoryOptions:
    """The repository and credential options every command accepts, as the user gave them."""

    bucket: str | None = None
    root_prefix: str | None = None
    repository: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    credentials: tuple[str, str, str] | None = None
    profile: str | None = None


def _first(*candidates: tuple[V | None, str], default: V) -> tuple[V, str]:
    """The first value given and its source, in the one order (command line, environment,
    project); else ``default``."""
    for value, source in candidates:
        if value is not None:
            return value, source
    return default, "default"


class CommandContext:
    """Built once per command; every property is computed on first use and then kept."""

    def __init__(
        self,
        options: RepositoryOptions | None = None,
        *,
        settings: Settings | None = None,
        project: ProjectSettings | None = None,
        cache_dir: Path | None = None,
        concurrency: int | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        """``note`` receives the one-line notices a user should see (the default local
        repository in use); the command line passes its ``info``. ``project`` defaults to the
        ``[tool.pipper]`` table found from the current directory."""
        self.options = options or RepositoryOptions()
        self.settings = settings or Settings()
        self._project = project
        self._cache_dir = cache_dir
        self._concurrency = concurrency
        self._note = note or log.info

    # -- where, who, and the cache --------------------------------------------------------------

    @cached_property
    def project(self) -> ProjectSettings:
        """The project's ``[tool.pipper]`` settings (empty when there is none)."""
        if self._project is None:
            from pipper.project import find_project

            self._project = find_project()
            log.debug("project settings: %s", self._project.path or "no [tool.pipper] found")
        return self._project

    @cached_property
    def explained(self) -> Resolved:
        """The repository the options, environment, project and saved repositories name, with
        where each of its settings came from."""
        from pipper.repositories import explain_repository

        options = self.options
        return explain_repository(
            bucket=options.bucket,
            root_prefix=options.root_prefix,
            repository=options.repository,
            endpoint_url=options.endpoint_url,
            region=options.region,
            env=self._env,
            project=self.project,
        )

    @property
    def _configured(self) -> Repository:
        return self.explained.repository

    @cached_property
    def repository(self) -> Repository:
        """The command's repository; using the default local one is said once."""
        repository = self._configured
        log.info(
            "repository: %s (location from %s)",
            repository.describe(),
            self.explained.sources["bucket"],
        )
        if repository.is_default_local:
            self._note(
                f"using the default local repository {repository.local_path} (no bucket configured)"
            )
        return repository

    def credentials(self, repository: Repository | None = None) -> Credentials | None:
        """The one rule: no credentials for a local directory, else the original's order."""
        from pipper.credentials import resolve_credentials

        repository = repository or self.repository
        if repository.is_local:
            return None
        found = resolve_credentials(
            credentials=self.options.credentials,
            profile=self.options.profile or self.settings.profile,
            repository=repository,
            env=self._env,
        )
        log.debug("credentials: %s", found.describe())
        return found

    @cached_property
    def cache(self) -> Cache:
        from pipper.cache import Cache

        root = absolute(self._cache_dir) if self._cache_dir else self.settings.cache_dir
        log.info("cache: %s", root)
        return Cache(root)

    @property
    def concurrency(self) -> int:
        """``--concurrency``, ``PIPPER_CONCURRENCY``, ``[tool.pipper] concurrency``, 32."""
        return self.concurrency_source()[0]

    def concurrency_source(self) -> tuple[int, str]:
        """The concurrency and where it came from (``pipper config``)."""
        return _first(
            (self._concurrency, "--concurrency"),
            (self.settings.concurrency_set, "PIPPER_CONCURRENCY"),
            (self.project.concurrency, self.project.where("concurrency")),
            default=DEFAULT_CONCURRENCY,
        )

    def installer(self, chosen: str | None = None) -> Literal["pip", "uv"]:
        """``--installer`` (``chosen``), ``PIPPER_INSTALLER``, ``[tool.pipper] installer``, pip."""
        return "uv" if self.installer_source(chosen)[0] == "uv" else "pip"

    def installer_source(self, chosen: str | None = None) -> tuple[str, str]:
        """The installer and where it came from (``pipper config``)."""
        return _first(
            (chosen, "--installer"),
            (self.settings.installer, "PIPPER_INSTALLER"),
            (self.project.installer, self.project.where("installer")),
            default="pip",
        )

    @property
    def _env(self) -> Mapping[str, str]:
        return self.settings.environ

    # -- stores and runs ---------------------------------------------------------------------

    @asynccontextmanager
    async def open_storage(
        self, repository: Repository | None = None, *, create: bool = False
    ) -> AsyncIterator[Storage]:
        """The store ``repository`` (default: the command's) names, closed on exit.

        A local directory that does not exist is "not found" for a reader, as a missing bucket
        is, rather than an empty repository: a mistyped path must not look like "no packages".
        Only a writer (``create``) and the default local repository start from nothing.
        """
        repository = repository or self.repository
        if repository.local_path is not None:
            from pipper.storage.local import LocalStorage

            if not (create or repository.is_default_local or repository.local_path.is_dir()):
                raise NotFoundError(
                    f"no such local repository: {repository.local_path} does not exist "
                    "(publishing to it creates it)"
                )

            yield LocalStorage(repository.local_path)
            return
        from pipper.storage.s3 import S3Storage

        assert repository.bucket is not None
        async with S3Storage(
            bucket=repository.bucket,
            endpoint_url=repository.endpoint_url,
            region=repository.region,
            where=repository.describe(),
            credentials=self.credentials(repository),
            concurrency=self.concurrency,
            read_timeout=self.settings.read_timeout,
            request_timeout=self.settings.request_timeout,
            retry_backoff=self.settings.retry_backoff,
            lean=self.settings.lean_s3,
            data_cache=self.cache.root / "botocore",
        ) as storage:
            yield storage

    def run(
        self,
        *,
        repository: Repository | None = None,
        offline: bool = False,
        pre: bool = False,
        progress: Progress | None = None,
        installed: Mapping[str, str] | None = None,
        local: LocalSource | None = None,
        remote: bool = True,
        public: PublicConfig | None = None,
        target: TargetSpec | None = None,
    ) -> Run:
        """A run over ``repository`` (default: the command's); enter it with ``async with``.

        ``remote=False`` keeps the run off the repository entirely (a vendored folder decides
        alone), so no repository is resolved and no credentials are looked up for it.
        ``public`` says how public requirements are resolved; ``None`` is ``--private-only``.
        """
        from pipper.run import Run

        chosen = repository if repository is not None else (self.repository if remote else None)

        def open_store() -> AbstractAsyncContextManager[Storage]:
            assert chosen is not None
            return self.open_storage(chosen)

        return Run(
            repository=chosen,
            cache=self.cache,
            open_store=open_store if chosen is not None and not offline else None,
            settings=self.settings,
            concurrency=self.concurrency,
            offline=offline,
            pre=pre,
            progress=progress,
            installed=installed,
            local=local,
            public=public,
            target=target,
        )

    def repository_for_lock(self, lock: Lock, *, offline: bool = False) -> Repository:
        """The repository the options (or the configuration) name; else the one the lock records.

        So ``pipper download --lock pipper.lock`` works on a machine with no repository
        configured. But a lock is a file anyone can edit in a pull request: its endpoint is used
        with the environment's credentials only when the command line, the environment or a
        saved repository names the same endpoint. Otherwise the run stops and names it.
        """
        from pipper.repositories import resolve_repository

        chosen = self._configured
        if not chosen.is_default_local or lock.repository.same_place(chosen):
            return chosen
        recorded = lock.repository
        options = self.options
        endpoint = options.endpoint_url or self.settings.endpoint_url or self.project.endpoint
        if endpoint is None and self.settings.aws_endpoint_url is None:
            endpoint = recorded.endpoint_url
            if endpoint is not None and recorded.bucket is not None and not offline:
                raise ConfigError(
                    f"the lock names the endpoint {endpoint}, and pipper sends credentials only "
                    "to an endpoint the command line, the environment or a saved repository "
                    f"names: pass --endpoint-url {endpoint} (or set PIPPER_ENDPOINT_URL) to "
                    "trust it"
                )
        return resolve_repository(
            bucket=recorded.bucket or recorded.local_path,
            root_prefix=options.root_prefix or recorded.root_prefix,
            repository=None,
            endpoint_url=endpoint,
            region=options.region or recorded.region,
            env=self._env,
            project=self.project,
        )
