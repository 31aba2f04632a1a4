"""The lock file format: what ``read_lock`` accepts, what it explains, and the round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipper.errors import UsageError
from pipper.lock import read_lock, write_lock


def _valid() -> dict[str, Any]:
    return {
        "lock_version": 1,
        "repository": {"id": "s3://b/pipper", "bucket": "b", "root_prefix": "pipper"},
        "requested": ["a"],
        "packages": [
            {
                "name": "a",
                "version": "1.0.0",
                "key": "pipper/a/v1-0-0.pipper",
                "size": 10,
                "sha256": "ab" * 32,
                "dependencies": ["b"],
                "required_by": [],
            },
            {
                "name": "b",
                "version": "2.0.0rc1",
                "key": "pipper/b/v2-0-0__pre_rc1.pipper",
                "size": 10,
                "sha256": "cd" * 32,
                "dependencies": [],
                "required_by": ["a"],
            },
        ],
    }


def test_read_lock_accepts_a_valid_file_and_writes_it_back_identically(tmp_path: Path) -> None:
    path = tmp_path / "pipper.lock"
    path.write_text(json.dumps(_valid()))
    lock = read_lock(path)
    assert [p.name for p in lock.packages] == ["a", "b"]
    assert lock.repository.bucket == "b"
    write_lock(lock, tmp_path / "again.lock")
    assert read_lock(tmp_path / "again.lock") == lock
    assert (tmp_path / "again.lock").read_bytes() == lock.dumps()


def _set(data: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """``data`` with the value at a dotted ``path`` (list indexes as numbers) changed."""
    target: Any = data
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("lock_version", 2), "written by a newer pipper"),
        (("lock_version", _DELETE), "not a pipper lock file"),
        (("packages.0.sha256", "xyz"), "'sha256' must be 64 lowercase hex digits"),
        (("packages.0.size", "10"), "'size' must be a whole number"),
        (("packages.0.name", "../a"), "path"),
        (("packages.0.key", "pipper/a/v2-0-0.pipper"), "does not hold version 1.0.0"),
        (("packages.0.key", "a.pipper"), "is not a bundle key"),
        (("packages.0.key", "pipper/z/v1-0-0.pipper"), "is not under the folder of a"),
        (("packages.1", {**_valid()["packages"][0], "name": "A"}), "A is locked twice"),
        (("packages.0.dependencies", ["c"]), "a 1.0.0 needs c, which the lock does not list"),
        (("repository.bucket", None), "exactly one of 'bucket' and 'local_path'"),
    ],
)
def test_read_lock_explains_what_is_wrong(
    tmp_path: Path, change: tuple[str, object], message: str
) -> None:
    path = tmp_path / "pipper.lock"
    path.write_text(json.dumps(_set(_valid(), *change)))
    with pytest.raises(UsageError) as caught:
        read_lock(path)
    assert message in caught.value.message
    assert str(path) in caught.value.message


def test_read_lock_of_something_that_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such lock file"):
        read_lock(tmp_path / "missing.lock")
    (tmp_path / "broken.lock").write_text('{"lock_version": 1,')
    with pytest.raises(UsageError, match=r"broken\.lock:1:"):
        read_lock(tmp_path / "broken.lock")
