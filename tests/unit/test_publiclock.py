"""The public half of a lock and ``pylock.toml``: old locks still read, bad entries are named,
the standard file says what the lock says."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pipper.errors import UsageError
from pipper.lock import read_lock, write_lock
from pipper.models import Candidate, Package
from pipper.publiclock import PYLOCK_WHEELS, LockedPublic, write_pylock
from tests.lib.files import sha256_of
from tests.lib.wheels import make_bundle

OLD_LOCK: dict[str, Any] = {
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
            "dependencies": [],
            "required_by": [],
        }
    ],
}
WHEEL = {
    "name": "requests",
    "version": "2.32.0",
    "filename": "requests-2.32.0-py3-none-any.whl",
    "sha256": "cd" * 32,
    "url": "https://files.example/packages/requests-2.32.0-py3-none-any.whl",
    "index_url": "https://pypi.org/simple/",
    "dependencies": ["idna"],
    "required_by": ["a 1.0.0"],
}


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "pipper.lock"
    path.write_text(json.dumps(document))
    return path


def test_a_lock_written_before_public_wheels_still_reads(tmp_path: Path) -> None:
    lock = read_lock(_write(tmp_path, OLD_LOCK))
    assert [p.name for p in lock.packages] == ["a"]
    assert lock.public == ()


def test_public_wheels_round_trip_in_their_own_list(tmp_path: Path) -> None:
    lock = read_lock(_write(tmp_path, {**OLD_LOCK, "public": [WHEEL]}))
    assert lock.public == (
        LockedPublic(
            name="requests",
            version="2.32.0",
            filename="requests-2.32.0-py3-none-any.whl",
            sha256="cd" * 32,
            url=str(WHEEL["url"]),
            index_url="https://pypi.org/simple/",
            dependencies=("idna",),
            required_by=("a 1.0.0",),
        ),
    )
    write_lock(lock, tmp_path / "again.lock")
    again = json.loads((tmp_path / "again.lock").read_text())
    assert again["public"] == [WHEEL]
    assert set(again) == {"lock_version", "repository", "requested", "packages", "public"}
    assert again["lock_version"] == 1  # a newer pipper's lock stays readable by this version


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sha256": "XYZ"}, "'sha256' must be 64 lowercase hex digits"),
        ({"filename": "other-2.32.0-py3-none-any.whl"}, "is not a wheel file name of requests"),
        ({"filename": "../requests-2.32.0-py3-none-any.whl"}, "is not a wheel file name"),
        ({"url": "https://user:secret@files.example/r.whl"}, "without secrets"),
        ({"url": "ftp://files.example/r.whl"}, "http(s) or file URL"),
        ({"name": "../evil"}, "contains a '..' path component"),
        ({"version": 3}, "'version' must be a non-empty string"),
        ({"required_by": "a"}, "'required_by' must be a list of strings"),
    ],
)
def test_a_bad_public_entry_is_named(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = _write(tmp_path, {**OLD_LOCK, "public": [{**WHEEL, **change}]})
    with pytest.raises(UsageError) as info:
        read_lock(path)
    assert str(path) in info.value.message
    assert message in info.value.message


def test_a_package_locked_as_private_and_public_is_refused(tmp_path: Path) -> None:
    twin = {**WHEEL, "name": "a", "filename": "a-1.0.0-py3-none-any.whl", "version": "1.0.0"}
    with pytest.raises(UsageError, match="locked both as private and as public"):
        read_lock(_write(tmp_path, {**OLD_LOCK, "public": [twin]}))
    with pytest.raises(UsageError, match="locked twice"):
        read_lock(_write(tmp_path, {**OLD_LOCK, "public": [WHEEL, WHEEL]}))


def test_pylock_names_private_wheels_by_path_and_public_ones_by_url(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "bundles", "a", "1.0.0", requires=["requests"])
    candidate = Candidate("a", "1.0.0", "pipper/a/v1-0-0.pipper", bundle.stat().st_size, "")
    private = {
        "a": Package(candidate, sha256_of(bundle), bundle, "cache", None, (), (None,)),
    }
    wheel = LockedPublic(**{k: v for k, v in WHEEL.items() if k not in ("dependencies",)})  # type: ignore[arg-type]
    path = write_pylock(tmp_path / "out" / "pylock.toml", private, [wheel])
    document = tomllib.loads(path.read_text())
    assert document["lock-version"] == "1.0"
    assert document["created-by"] == "pipper"
    packages = {p["name"]: p for p in document["packages"]}
    (a_wheel,) = packages["a"]["wheels"]
    assert a_wheel["path"] == f"{PYLOCK_WHEELS}/a-1.0.0-py3-none-any.whl"
    extracted = tmp_path / "out" / a_wheel["path"]
    assert a_wheel["hashes"] == {"sha256": sha256_of(extracted)}
    (r_wheel,) = packages["requests"]["wheels"]
    assert r_wheel == {
        "name": WHEEL["filename"],
        "url": WHEEL["url"],
        "hashes": {"sha256": "cd" * 32},
    }
    assert packages["requests"]["index"] == "https://pypi.org/simple/"
