"""What tests check files and caches with: a file's sha256, the blobs a cache holds."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes: how bundles are named in the cache and compared."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_blobs(cache: Path) -> list[Path]:
    """Every blob file under a cache folder, sorted; empty when it has none yet."""
    root = cache / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
