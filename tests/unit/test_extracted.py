"""The extracted wheels of a cache (``extracted/<digest>/<wheel>``), with no server.

What an installer is handed must be the bundle's wheel, at a path that stays the same while
the file does (uv reuses its unpacked copy by path and change time), and nothing a link, a
FIFO or an in-place edit put there.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest

from pipper.bundle import read_bundle
from pipper.cache import Cache
from pipper.cache.extracted import WHEEL_MODE
from pipper.errors import IntegrityError
from tests.lib.wheels import make_bundle, make_wheel


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wheel_bytes(bundle: Path) -> bytes:
    with zipfile.ZipFile(bundle) as zf:
        return zf.read("package.whl")


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    made = Cache(tmp_path / "cache")
    made.prepare()
    return made


@pytest.fixture
def bundle(tmp_path: Path, cache: Cache) -> tuple[Path, str, str]:
    """A bundle committed to the cache as a download commits it: (blob, digest, wheel name)."""
    made = make_bundle(tmp_path / "bundles", "lib", "1.0.0", payload_size=20_000)
    digest = _digest(made)
    with cache.pending() as part:
        part.handle.write(made.read_bytes())
        blob = part.commit(digest)
    return blob, digest, read_bundle(blob).wheel_name


def _place(cache: Cache, bundle: tuple[Path, str, str]) -> Path:
    blob, digest, name = bundle
    return cache.extracted.from_bundle(digest, blob, name)


def test_a_wheel_is_extracted_once_read_only_and_then_found_where_it_was(
    cache: Cache, bundle: tuple[Path, str, str]
) -> None:
    blob, digest, name = bundle
    assert cache.extracted.get(digest, name) is None
    wheel = _place(cache, bundle)
    assert wheel == cache.root / "extracted" / digest / name
    assert wheel.read_bytes() == _wheel_bytes(blob)
    assert stat.S_IMODE(os.lstat(wheel).st_mode) == WHEEL_MODE
    first = os.lstat(wheel)
    assert _place(cache, bundle) == wheel
    again = os.lstat(wheel)  # not written again: the very file, its change time untouched
    assert (again.st_ino, again.st_ctime_ns) == (first.st_ino, first.st_ctime_ns)
    assert cache.extracted.get(digest, name) == wheel
    assert list(cache.tmp.iterdir()) == []


def test_reading_a_wheel_keeps_it_sealed(cache: Cache, bundle: tuple[Path, str, str]) -> None:
    """What an installer does to it (open, read, stat) changes no change time."""
    wheel = _place(cache, bundle)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.testzip() is None
    assert cache.extracted.get(bundle[1], bundle[2]) == wheel


@pytest.mark.parametrize("change", ["write", "chmod", "hard link"])
def test_a_wheel_changed_after_extraction_is_extracted_again(
    cache: Cache, bundle: tuple[Path, str, str], tmp_path: Path, change: str
) -> None:
    wheel = _place(cache, bundle)
    inode = os.lstat(wheel).st_ino
    if change == "write":
        os.chmod(wheel, 0o644)
        with wheel.open("r+b") as handle:
            handle.seek(100)
            handle.write(b"\x00" * 16)
        os.chmod(wheel, WHEEL_MODE)  # even read-only again, it is not what was extracted
    elif change == "chmod":
        os.chmod(wheel, 0o644)
    else:
        os.link(wheel, tmp_path / "elsewhere.whl")
    assert cache.extracted.get(bundle[1], bundle[2]) is None
    placed = _place(cache, bundle)
    assert placed == wheel and os.lstat(wheel).st_ino != inode
    assert wheel.read_bytes() == _wheel_bytes(bundle[0])
    assert cache.extracted.get(bundle[1], bundle[2]) == wheel


def _plant_link(path: Path, victim: Path) -> None:
    path.symlink_to(victim)


def _plant_fifo(path: Path, _: Path) -> None:
    os.mkfifo(path)


def _plant_folder(path: Path, _: Path) -> None:
    path.mkdir()
    (path / "inside").write_bytes(b"x")


PLANTS = {"link": _plant_link, "fifo": _plant_fifo, "folder": _plant_folder}


@pytest.mark.parametrize("plant", list(PLANTS))
def test_what_is_no_regular_file_where_a_wheel_belongs_is_replaced_never_followed(
    cache: Cache, bundle: tuple[Path, str, str], tmp_path: Path, plant: str
) -> None:
    blob, digest, name = bundle
    victim = tmp_path / "victim.whl"
    victim.write_bytes(_wheel_bytes(blob))  # the right bytes, in a file someone else controls
    folder = cache.root / "extracted" / digest
    folder.mkdir(parents=True)
    PLANTS[plant](folder / name, victim)
    assert cache.extracted.get(digest, name) is None
    wheel = _place(cache, bundle)
    assert stat.S_ISREG(os.lstat(wheel).st_mode)
    assert wheel.read_bytes() == _wheel_bytes(blob)
    assert victim.read_bytes() == _wheel_bytes(blob) and os.lstat(victim).st_nlink == 1


def test_a_linked_entry_folder_is_replaced_by_a_folder_and_never_written_through(
    cache: Cache, bundle: tuple[Path, str, str], tmp_path: Path
) -> None:
    digest = bundle[1]
    victim = tmp_path / "victim"
    victim.mkdir()
    (cache.root / "extracted").mkdir()
    (cache.root / "extracted" / digest).symlink_to(victim, target_is_directory=True)
    wheel = _place(cache, bundle)
    assert not (cache.root / "extracted" / digest).is_symlink()
    assert wheel.is_file() and list(victim.iterdir()) == []


@pytest.mark.parametrize("name", ["../x.whl", "a/b.whl", ".tmp-1-x.whl", "x.tar.gz", ""])
def test_a_name_that_is_no_plain_wheel_name_is_never_a_path(
    cache: Cache, bundle: tuple[Path, str, str], name: str
) -> None:
    blob, digest, _ = bundle
    assert cache.extracted.get(digest, name) is None
    with pytest.raises(ValueError):
        cache.extracted.from_bundle(digest, blob, name)
    assert cache.extracted.get("../" + digest[3:], "x.whl") is None


def test_a_public_wheel_is_copied_only_when_it_hashes_to_its_digest(
    cache: Cache, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "w", "pub", "2.0.0")
    digest = _digest(wheel)
    copy = cache.extracted.from_wheel(digest, wheel, wheel.name)
    assert copy.read_bytes() == wheel.read_bytes() and copy.parent.name == digest
    assert os.lstat(copy).st_ino != os.lstat(wheel).st_ino  # a copy: the blob's ctime is its own
    other = "0" * 64
    with pytest.raises(IntegrityError):
        cache.extracted.from_wheel(other, wheel, wheel.name)
    assert cache.extracted.get(other, wheel.name) is None
    assert list(cache.tmp.iterdir()) == []


# -- maintenance ---------------------------------------------------------------------------------


def test_info_counts_the_extracted_wheels(cache: Cache, bundle: tuple[Path, str, str]) -> None:
    wheel = _place(cache, bundle)
    stats = cache.stats()
    assert (stats.extracted, stats.extracted_size) == (1, wheel.stat().st_size)
    assert stats.entries == 1  # the blob; the extracted wheel is no entry of its own


def test_verify_removes_an_extracted_wheel_whose_bytes_differ_from_its_bundle(
    cache: Cache, bundle: tuple[Path, str, str], tmp_path: Path
) -> None:
    wheel = _place(cache, bundle)
    public = make_wheel(tmp_path / "w", "pub", "2.0.0")
    copy = cache.extracted.from_wheel(_digest(public), public, public.name)
    report = cache.verify_all()
    assert (report.extracted_checked, report.extracted_damaged) == (2, ())
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a bit flipped on disk: no change time tells
    os.chmod(wheel, 0o644)
    wheel.write_bytes(bytes(data))
    report = cache.verify_all()
    assert [w.name for w in report.extracted_damaged] == [bundle[2]]
    assert not wheel.exists() and copy.is_file()
    assert report.damaged == ()  # the bundle itself is intact
    assert _place(cache, bundle).read_bytes() == _wheel_bytes(bundle[0])


def test_prune_takes_an_extracted_wheel_with_its_blob(
    cache: Cache, bundle: tuple[Path, str, str]
) -> None:
    blob, digest, _ = bundle
    wheel = _place(cache, bundle)
    report = cache.prune()
    assert report.extracted == 0 and wheel.is_file()  # its blob is there: kept
    os.chmod(blob, 0o644)
    blob.unlink()
    report = cache.prune()
    assert report.extracted == 1
    assert not (cache.root / "extracted" / digest).exists()


def test_prune_all_removes_every_extracted_wheel_and_what_is_no_wheel_there(
    cache: Cache, bundle: tuple[Path, str, str]
) -> None:
    """(A link there makes maintenance refuse the whole cache: see the hardening tests.)"""
    wheel = _place(cache, bundle)
    (cache.root / "extracted" / "not-a-folder").write_bytes(b"x")
    (wheel.parent / "inside-folder").mkdir()
    report = cache.prune(everything=True)
    assert report.extracted == 1 and report.damaged == 2
    assert list((cache.root / "extracted").iterdir()) == []
