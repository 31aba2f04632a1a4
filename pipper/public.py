"""The public half of the graph: resolved once, together, by pip; then cached like bundles.

Resolving public requirements is pip's job, not pipper's: the index, its configuration
(``pip.conf``, ``PIP_INDEX_URL``, keyring, certificates, proxies), wheel tags, markers and
backtracking are all pip's, and a second resolver would disagree with pip at install time. So
after the private graph is chosen, ONE ``pip install --dry-run --report`` runs on the target
interpreter with:

- every private wheel of the graph as a *file*, and a constraints file pinning every private
  package to the version pipper chose, so pip can never take a private package from an index;
- every public requirement (the private wheels' own, the bundles' and the input file's ``pypi``
  entries), so pip sees the whole public closure at once and picks one consistent set;
- the index options the user gave (``--index-url``, ``--extra-index-url``, ``--find-links``),
  else pip's own configuration.

pip's report names every wheel it chose with its URL and sha256. Those not in the cache are
fetched with ``pip download`` in hash-checking mode (``--require-hashes``, so pip's own
networking and credentials apply) and committed by sha256, exactly like bundles; each is rehashed
before use. ``--offline`` resolves the same way with ``--no-index`` against the public wheels the
cache holds, so what it cannot satisfy is pip's "no matching distribution", reported as missing.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import anyio

from pipper.errors import BundleError, NetworkError, OfflineError, ResolutionError
from pipper.keys import redact_url
from pipper.models import PublicPackage
from pipper.requirements import PublicRequirement, applicable, describe_requirements
from pipper.versions import normalize_name
from pipper.wheels import NETWORK_MARKS, PublicWheels, fetch_public, wheel_name_and_version

if TYPE_CHECKING:
    from pipper.cache import Cache
    from pipper.models import Package

__all__ = ["IndexOptions", "InstallSight", "PublicConfig", "resolve_public"]

log = logging.getLogger(__name__)

_NOT_FOUND = ("No matching distribution found for", "Could not find a version that satisfies")


@dataclass(frozen=True)
class IndexOptions:
    """Where pip looks for public packages; nothing given means pip's own configuration."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()

    def pip_args(self) -> list[str]:
        args: list[str] = []
        if self.index_url is not None:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        return args

    @property
    def recorded(self) -> str | None:
        """The index URL as a lock records it: without credentials, ``None`` for pip's own."""
        return redact_url(self.index_url) if self.index_url else None


@dataclass(frozen=True)
class InstallSight:
    """What an install's resolution sees installed: the destination's packages are kept when
    they satisfy (as pip keeps them), except in a ``--target`` folder, which pip cannot see."""

    target: Path | None = None
    user: bool = False
    upgrade: bool = False


@dataclass(frozen=True)
class PublicConfig:
    """How a run resolves its public requirements."""

    python: Path | None = None
    """The interpreter the graph is for (markers, wheel tags); ``None``: the running one."""
    index: IndexOptions = field(default_factory=IndexOptions)
    install: InstallSight | None = None
    """``None``: the whole closure, whatever is installed (``download``, ``lock``, ``warm``)."""
    wheel_dirs: tuple[Path, ...] = ()
    """Vendored folders (``install --from``): their wheels are the only public source."""

    @cached_property
    def markers(self) -> dict[str, str]:
        from pipper.install.environment import marker_environment

        return marker_environment(self.python)


@dataclass
class _Chosen:
    name: str
    version: str
    filename: str
    url: str
    sha256: str | None
    requires: tuple[str, ...]


async def resolve_public(
    cache: Cache,
    config: PublicConfig,
    requirements: Sequence[PublicRequirement],
    private: Mapping[str, Package],
    *,
    offline: bool,
    fetch: bool = True,
) -> dict[str, PublicPackage]:
    """pip's choice for ``requirements``, every wheel of it in the cache (unless not
    ``fetch``: a plan names the wheels the cache lacks); see the module doc."""
    if not requirements:
        return {}
    wheels = PublicWheels(cache)
    cache.tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-public-", dir=cache.tmp) as tmp:
        folder = Path(tmp)
        local = offline or bool(config.wheel_dirs)
        cached = await anyio.to_thread.run_sync(wheels.link_all, folder / "cached") if local else {}
        chosen = await anyio.to_thread.run_sync(
            _report, config, requirements, private, folder, local
        )
    for item in chosen:
        if normalize_name(item.name) in private and not item.url.startswith("file:"):
            log.warning(
                "pip proposed %s %s from %s for a private package: ignored, private packages "
                "come from the repository only",
                item.name,
                item.version,
                redact_url(item.url),
            )
    chosen = [c for c in chosen if normalize_name(c.name) not in private]
    for item in chosen:  # a cached wheel is known by its record: pip hashed what it read
        item.sha256 = cached.get(item.filename) or item.sha256
    needs = {normalize_name(c.name): _needs(c, config) for c in chosen}
    return await fetch_public(
        cache,
        config,
        [(c.name, c.version, c.filename, c.url, c.sha256) for c in chosen],
        offline=offline,
        fetch=fetch,
        required_by=_required_by(requirements, chosen, needs),
        dependencies=needs,
    )


# -- pip's resolution --------------------------------------------------------------------------


def _report(
    config: PublicConfig,
    requirements: Sequence[PublicRequirement],
    private: Mapping[str, Package],
    folder: Path,
    local: bool,
) -> list[_Chosen]:
    from pipper.bundle import extract_wheel
    from pipper.install.runner import resolver_pip, run_process
    from pipper.keys import mask_url

    private_wheels = [
        extract_wheel(p.path, folder / "private") for p in private.values() if p.path is not None
    ]
    pins = folder / "constraints.txt"
    pins.write_text(
        "".join(f"{p.candidate.name}=={p.candidate.version}\n" for p in private.values()),
        encoding="utf-8",
    )
    report = folder / "report.json"
    cmd = [*resolver_pip(config.python), "install", "--dry-run", "--quiet", "--no-input"]
    cmd += ["--disable-pip-version-check", "--progress-bar", "off", "--report", str(report)]
    sight = config.install
    if sight is None or sight.target is not None:
        cmd.append("--ignore-installed")
    elif sight.user:
        cmd.append("--user")
    if sight is not None and sight.upgrade:
        cmd.append("--upgrade")
    if local:
        cmd += ["--no-index", "--find-links", str(folder / "cached")]
        cmd += [arg for d in config.wheel_dirs for arg in ("--find-links", str(d))]
    else:
        cmd += config.index.pip_args()
    cmd += ["--constraint", str(pins), *map(str, private_wheels)]
    cmd += [r.requirement for r in requirements]
    log.debug("resolving the public requirements: %s", " ".join(map(mask_url, cmd)))
    code, output = run_process(cmd, None)
    if code != 0:
        raise _failure(output, requirements, local, config.wheel_dirs)
    try:
        items = json.loads(report.read_text(encoding="utf-8"))["install"]
        return [_chosen(item) for item in items]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResolutionError(f"pip's report is unusable: {exc}") from None


def _chosen(item: Mapping[str, Any]) -> _Chosen:
    metadata = item["metadata"]
    info = item["download_info"]
    url = str(info["url"])
    hashes = info.get("archive_info", {}).get("hashes", {}) or {}
    sha256 = hashes.get("sha256")
    if sha256 is None and str(info.get("archive_info", {}).get("hash", "")).startswith("sha256="):
        sha256 = info["archive_info"]["hash"].split("=", 1)[1]
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if wheel_name_and_version(filename) is None:
        raise ResolutionError(
            f"pip chose {redact_url(url)} for {metadata['name']}, which is not a "
            "wheel: pipper caches and installs public packages as wheels only"
        )
    return _Chosen(
        name=str(metadata["name"]),
        version=str(metadata["version"]),
        filename=filename,
        url=url,
        sha256=str(sha256).lower() if sha256 else None,
        requires=tuple(str(r) for r in metadata.get("requires_dist") or ()),
    )


def _failure(
    output: Sequence[str],
    requirements: Sequence[PublicRequirement],
    local: bool,
    vendored: Sequence[Path],
) -> Exception:
    from pipper.install.runner import failure_reason

    reason = failure_reason(output, "pip")
    wanted = describe_requirements(list(requirements))
    if vendored:
        folders = ", ".join(str(d) for d in vendored)
        return ResolutionError(
            f"the public wheels in {folders} do not satisfy {wanted}: {reason}; vendor them "
            "with 'pipper download -d DIR'"
        )
    if local:
        return OfflineError(
            f"--offline: the public wheels in the cache do not satisfy {wanted}: {reason}; run "
            "the same command once without --offline (or 'pipper cache warm')"
        )
    if any(mark in line for line in output for mark in NETWORK_MARKS):
        return NetworkError(
            f"no package index could be reached for the public requirements {wanted} "
            f"({reason}); configure one as for pip (--index-url, PIP_INDEX_URL, pip.conf) or "
            "pass --find-links DIR"
        )
    if any(mark in reason for mark in _NOT_FOUND):
        return ResolutionError(f"no index offers {wanted}: {reason}")
    return ResolutionError(f"pip could not resolve the public requirements {wanted}: {reason}")


def _needs(item: _Chosen, config: PublicConfig) -> tuple[str, ...]:
    """The names a public wheel requires on the target (informational: pip has resolved them)."""
    try:
        found = applicable(item.requires, lambda: config.markers, where=f"{item.name}")
    except BundleError as exc:
        log.debug("%s", exc)
        return ()
    return tuple(dict.fromkeys(normalize_name(r.name) for r in found))


def _required_by(
    requirements: Sequence[PublicRequirement],
    chosen: Sequence[_Chosen],
    needs: Mapping[str, tuple[str, ...]],
) -> dict[str, tuple[str | None, ...]]:
    """Who needs each public package: the private packages and the user first, then the public
    packages whose own requirements name it."""
    parents: dict[str, list[str | None]] = {}
    for requirement in requirements:
        parents.setdefault(requirement.name, []).append(requirement.required_by)
    for item in chosen:
        for name in needs[normalize_name(item.name)]:
            parents.setdefault(name, []).append(f"{item.name} {item.version}")
    return {name: tuple(dict.fromkeys(found)) for name, found in parents.items()}
