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
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import anyio

from pipper.cache.blobs import sha256_file
from pipper.errors import IntegrityError, NetworkError, OfflineError, ResolutionError
from pipper.fsutil import temp_file
from pipper.keys import redact_url
from pipper.models import PublicPackage, Source
from pipper.requirements import PublicRequirement, applicable, describe_requirements
from pipper.versions import normalize_name
from pipper.wheels import PublicWheels, WheelRecord, wheel_name_and_version

if TYPE_CHECKING:
    from pipper.cache import Cache
    from pipper.models import Package

__all__ = ["IndexOptions", "InstallSight", "PublicConfig", "fetch_public", "resolve_public"]

log = logging.getLogger(__name__)

_NETWORK_MARKS = (
    "Failed to establish a new connection",
    "Max retries exceeded",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Connection refused",
    "NewConnectionError",
    "ConnectTimeoutError",
)
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
) -> dict[str, PublicPackage]:
    """pip's choice for ``requirements``, every wheel of it in the cache; see the module doc."""
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
    chosen = [c for c in chosen if normalize_name(c.name) not in private]
    for item in chosen:  # a cached wheel is known by its record: pip hashed what it read
        item.sha256 = cached.get(item.filename) or item.sha256
    return await fetch_public(
        cache,
        config,
        [(c.name, c.version, c.filename, c.url, c.sha256) for c in chosen],
        offline=offline,
        required_by=_required_by(requirements, chosen, config.markers),
        dependencies={normalize_name(c.name): _names(c.requires, config) for c in chosen},
    )


async def fetch_public(
    cache: Cache,
    config: PublicConfig,
    wanted: Iterable[tuple[str, str, str, str, str | None]],
    *,
    offline: bool,
    required_by: Mapping[str, tuple[str | None, ...]] | None = None,
    dependencies: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, PublicPackage]:
    """Bring ``(name, version, file name, url, sha256)`` wheels into the cache: a cached blob
    that still hashes right costs nothing, the rest come from their URL and must hash to the
    sha256 given (a wheel with none is hashed as it arrives: trust on first use, as pip does)."""
    wheels = PublicWheels(cache)
    found: dict[str, PublicPackage] = {}
    missing: list[WheelRecord] = []
    for name, version, filename, url, sha256 in wanted:
        record = WheelRecord(sha256 or "", filename, name, version, redact_url(url))
        hit = wheels.verified(sha256) if sha256 else None
        if hit is None:
            missing.append(record)
        else:
            found[record.project] = _package(hit[0], hit[1], "cache", required_by, dependencies)
    if missing and offline:
        names = ", ".join(f"{r.name} {r.version}" for r in missing)
        raise OfflineError(
            f"--offline: public wheels not in the cache: {names}; run the same command once "
            "without --offline (or 'pipper cache warm')"
        )
    if missing:
        fetched = await anyio.to_thread.run_sync(_download, cache, config, missing)
        for record, path in fetched:
            found[record.project] = _package(record, path, "network", required_by, dependencies)
    return found


def _package(
    record: WheelRecord,
    path: Path,
    source: Source,
    required_by: Mapping[str, tuple[str | None, ...]] | None,
    dependencies: Mapping[str, tuple[str, ...]] | None,
) -> PublicPackage:
    return PublicPackage(
        name=record.name,
        version=record.version,
        filename=record.filename,
        sha256=record.sha256,
        url=record.url,
        path=path,
        source=source,
        required_by=(required_by or {}).get(record.project, ()),
        dependencies=(dependencies or {}).get(record.project, ()),
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
    from pipper.install.runner import pip_runner, run_process

    private_wheels = [
        extract_wheel(p.path, folder / "private") for p in private.values() if p.path is not None
    ]
    pins = folder / "constraints.txt"
    pins.write_text(
        "".join(f"{p.candidate.name}=={p.candidate.version}\n" for p in private.values()),
        encoding="utf-8",
    )
    report = folder / "report.json"
    cmd = [*pip_runner(config.python), "install", "--dry-run", "--quiet", "--no-input"]
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
    log.debug("resolving the public requirements: %s", " ".join(cmd))
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
    if any(mark in line for line in output for mark in _NETWORK_MARKS):
        return NetworkError(
            f"no package index could be reached for the public requirements {wanted} "
            f"({reason}); configure one as for pip (--index-url, PIP_INDEX_URL, pip.conf) or "
            "pass --find-links DIR"
        )
    if any(mark in reason for mark in _NOT_FOUND):
        return ResolutionError(f"no index offers {wanted}: {reason}")
    return ResolutionError(f"pip could not resolve the public requirements {wanted}: {reason}")


def _names(raw: Iterable[str], config: PublicConfig) -> tuple[str, ...]:
    try:
        found = applicable(raw, config.markers, where="a public wheel")
    except Exception:
        return ()
    return tuple(dict.fromkeys(normalize_name(r.name) for r in found))


def _required_by(
    requirements: Sequence[PublicRequirement],
    chosen: Sequence[_Chosen],
    markers: Mapping[str, str],
) -> dict[str, tuple[str | None, ...]]:
    """Who needs each public package: the private packages and the user first, then the public
    packages whose own requirements name it."""
    parents: dict[str, list[str | None]] = {}
    for requirement in requirements:
        parents.setdefault(requirement.name, []).append(requirement.required_by)
    for item in chosen:
        try:
            needs = applicable(item.requires, markers, where=item.name)
        except Exception:
            continue
        for need in needs:
            parents.setdefault(normalize_name(need.name), []).append(f"{item.name} {item.version}")
    return {name: tuple(dict.fromkeys(found)) for name, found in parents.items()}


# -- fetching ----------------------------------------------------------------------------------


def _download(
    cache: Cache, config: PublicConfig, missing: Sequence[WheelRecord]
) -> list[tuple[WheelRecord, Path]]:
    """Fetch ``missing`` with one ``pip download`` (pip's networking, credentials and hash
    checking), or straight from disk for ``file:`` URLs; commit each by its sha256."""
    from pipper.install.runner import failure_reason, pip_runner, run_process

    wheels = PublicWheels(cache)
    done: list[tuple[WheelRecord, Path]] = []
    remote: list[WheelRecord] = []
    for record in missing:
        source = _local_file(record.url)
        if source is not None:
            done.append(_commit(wheels, cache, record, source))
        else:
            remote.append(record)
    if not remote:
        return done
    cache.tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-download-", dir=cache.tmp) as tmp:
        folder = Path(tmp)
        lines = [
            f"{r.name} @ {r.url}" + (f" --hash=sha256:{r.sha256}" if r.sha256 else "")
            for r in remote
        ]
        requirements = folder / "requirements.txt"
        requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
        cmd = [*pip_runner(config.python), "download", "--no-deps", "--no-input", "--quiet"]
        cmd += ["--disable-pip-version-check", "--progress-bar", "off", "-d", str(folder / "out")]
        if all(r.sha256 for r in remote):
            cmd.append("--require-hashes")
        cmd += [*config.index.pip_args(), "-r", str(requirements)]
        code, output = run_process(cmd, None)
        if code != 0:
            reason = failure_reason(output, "pip")
            names = ", ".join(f"{r.name} {r.version}" for r in remote)
            if any(mark in line for line in output for mark in _NETWORK_MARKS):
                raise NetworkError(f"could not fetch the public wheels {names}: {reason}")
            if "THESE PACKAGES DO NOT MATCH THE HASHES" in "\n".join(output):
                raise IntegrityError(f"the public wheels {names} do not hash as locked: {reason}")
            raise ResolutionError(f"could not fetch the public wheels {names}: {reason}")
        for record in remote:
            done.append(_commit(wheels, cache, record, folder / "out" / record.filename))
    return done


def _local_file(url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    return Path(unquote(parts.path))


def _commit(
    wheels: PublicWheels, cache: Cache, record: WheelRecord, source: Path
) -> tuple[WheelRecord, Path]:
    """Copy ``source`` into the cache under its sha256, which must be the one expected."""
    if not source.is_file():
        raise ResolutionError(f"{record.name} {record.version}: {record.filename} did not arrive")
    with temp_file(cache.tmp, suffix=".whl") as (tmp, handle), source.open("rb") as src:
        shutil.copyfileobj(src, handle)
        handle.flush()
        actual = sha256_file(tmp)
        if record.sha256 and actual != record.sha256:
            raise IntegrityError(
                f"{record.filename} hashes to {actual[:12]}..., not the {record.sha256[:12]}... "
                "the index (or the lock) gave for it: refused"
            )
        record = WheelRecord(actual, record.filename, record.name, record.version, record.url)
        return record, wheels.commit(tmp, record)
