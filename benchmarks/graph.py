"""Synthetic dependency graphs: generated from a seed, built into real bundles, published.

A graph has ``levels`` levels under one root package; every package of level L+1 has at least
one parent on level L and only edges from L to L+1 exist, so the shortest path to a package of
level L is L edges and a breadth-first walk needs exactly ``levels`` rounds. Bundle sizes follow
what private packages look like: most are small (10-200 KB, log-uniform), about 2 % are big
(5-20 MB). A quarter of the packages also have an older, tiny version, so listings return more
than one key as they do in a real bucket.

Bundles are real ``.pipper`` files made with ``tests.lib.wheels.make_bundle`` and are kept under the
work folder between runs (keyed by a hash of the graph), so a second run only publishes them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import shutil
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipper.bundle import read_bundle, s3_metadata
from pipper.cache import sha256_file
from pipper.keys import bundle_filename, bundle_key
from tests.lib.wheels import make_bundle

KB = 1000
MB = 1000 * KB
SMALL = (10 * KB, 200 * KB)
BIG = (5 * MB, 20 * MB)
BIG_FRACTION = 0.02
OLD_VERSION_FRACTION = 0.25
OLD_VERSION_SIZE = 2 * KB
ROOT_PREFIX = "pipper"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    level: int
    dependencies: tuple[str, ...]
    payload_size: int
    old_version: str | None = None


@dataclass(frozen=True)
class Graph:
    label: str
    levels: int
    packages: tuple[Package, ...]

    @property
    def root(self) -> str:
        return self.packages[0].name

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.packages]

    @property
    def payload_bytes(self) -> int:
        return sum(p.payload_size for p in self.packages)

    def digest(self) -> str:
        text = json.dumps([asdict(p) for p in self.packages], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def generate(
    count: int,
    levels: int,
    *,
    seed: int = 0,
    prefix: str = "bench",
    big_fraction: float = BIG_FRACTION,
    max_size: int | None = None,
) -> Graph:
    """A deterministic graph of ``count`` packages on ``levels`` levels (one root on level 0)."""
    if levels < 1 or count < levels:
        raise ValueError(f"a graph of {levels} levels needs at least {levels} packages")
    rng = random.Random(f"pipper-bench-{seed}-{count}-{levels}-{prefix}")
    per_level = _level_sizes(count, levels)
    names: list[list[str]] = []
    index = 0
    for size in per_level:
        names.append([f"{prefix}_{index + i:04d}" for i in range(size)])
        index += size

    deps: dict[str, set[str]] = {n: set() for level in names for n in level}
    for upper, lower in itertools.pairwise(names):
        for child in lower:
            deps[rng.choice(upper)].add(child)
        for parent in upper:
            extra = rng.randint(0, min(3, len(lower)))
            deps[parent].update(rng.sample(lower, extra))

    everyone = [n for level in names[1:] for n in level]
    big_count = round(count * big_fraction) if big_fraction > 0 else 0
    if big_fraction > 0 and count >= 20:
        big_count = max(big_count, 1)
    big = set(rng.sample(everyone, min(big_count, len(everyone))))

    packages = []
    for level_number, level in enumerate(names):
        for name in level:
            lo, hi = BIG if name in big else SMALL
            size = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            if max_size is not None:
                size = min(size, max_size)
            version = f"1.{rng.randint(1, 9)}.{rng.randint(0, 20)}"
            old = "1.0.0" if rng.random() < OLD_VERSION_FRACTION else None
            packages.append(
                Package(
                    name=name,
                    version=version,
                    level=level_number,
                    dependencies=tuple(sorted(deps[name])),
                    payload_size=size,
                    old_version=old,
                )
            )
    return Graph(
        label=f"{count} packages, {levels} levels", levels=levels, packages=tuple(packages)
    )


def single(name: str, payload_size: int) -> Graph:
    """A graph of one package with no dependencies (the memory benchmark's bundles)."""
    return Graph(
        label=name,
        levels=1,
        packages=(
            Package(
                name=name, version="1.0.0", level=0, dependencies=(), payload_size=payload_size
            ),
        ),
    )


def _level_sizes(count: int, levels: int) -> list[int]:
    """One root, then wider levels further down (fan-out), every level at least one package."""
    if levels == 1:
        return [count]
    weights = [2 ** min(i, 3) for i in range(1, levels)]
    rest = count - 1
    sizes = [max(1, rest * w // sum(weights)) for w in weights]
    sizes[-1] += rest - sum(sizes)
    while sizes[-1] < 1:
        biggest = max(range(len(sizes) - 1), key=lambda i: sizes[i])
        sizes[biggest] -= 1
        sizes[-1] += 1
    return [1, *sizes]


def build(graph: Graph, work: Path, *, declare_requires: bool = False) -> list[Path]:
    """Every bundle of ``graph`` (current and older versions), built once and kept in ``work``.

    With ``declare_requires`` each wheel also names its dependencies in ``Requires-Dist``, as
    a real package does, so an index-based installer (uv from a static index) can walk the
    same graph. The original pipper installs a wheel before its dependencies and would fail
    on them, so the graphs it installs are built without.
    """
    folder = work / "bundles" / (graph.digest() + ("-requires" if declare_requires else ""))
    marker = folder / "complete.json"
    if marker.is_file():
        paths = [folder / name for name in json.loads(marker.read_text())]
        if all(p.is_file() for p in paths):
            return paths
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)

    def one(package: Package) -> list[Path]:
        versions = [(package.version, package.payload_size)]
        if package.old_version is not None:
            versions.append((package.old_version, OLD_VERSION_SIZE))
        return [
            make_bundle(
                folder,
                package.name,
                version,
                dependencies=package.dependencies,
                requires=package.dependencies if declare_requires else (),
                payload_size=payload_size,
            )
            for version, payload_size in versions
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = [p for made in pool.map(one, graph.packages) for p in made]
    marker.write_text(json.dumps([p.name for p in paths]))
    return paths


def publish(client: Any, bucket: str, bundles: Iterable[Path], *, workers: int = 8) -> int:
    """Upload bundles with the key, content type and user metadata ``pipper publish`` writes.

    Straight ``put_object`` calls in parallel: ``pipper publish`` lists before each upload and
    sends them one by one, which costs more than the benchmark it prepares. Returns the bytes.
    """

    def one(path: Path) -> int:
        meta = read_bundle(path)
        digest = sha256_file(path)
        with path.open("rb") as body:
            client.put_object(
                Bucket=bucket,
                Key=bundle_key(ROOT_PREFIX, meta.name, meta.version),
                Body=body,
                ContentType="application/zip",
                Metadata=s3_metadata(meta, digest),
            )
        return path.stat().st_size

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(one, list(bundles)))


def current_bundle_bytes(graph: Graph, bundles: Sequence[Path]) -> int:
    """Bytes of the bundles a full download fetches (the newest version of every package)."""
    wanted = {bundle_filename(p.name, p.version) for p in graph.packages}
    return sum(path.stat().st_size for path in bundles if path.name in wanted)


def crowd(packages: int, versions: int) -> Iterator[tuple[str, bytes, str]]:
    """Stand-ins for other teams' bundles: ``packages`` names x ``versions`` keys, as
    ``(key, body, content type)``. Only their keys matter: a download of another graph lists
    them and fetches none, so each body is a few bytes. The names spread over the alphabet, so
    a listing meets them before, among and after a graph's own packages."""
    for i in range(packages):
        name = f"{chr(ord('a') + i % 26)}{i:05d}_lib"
        for j in range(versions):
            key = bundle_key(ROOT_PREFIX, name, f"1.{j // 10}.{j % 10}")
            yield key, b"stand-in", "application/zip"
