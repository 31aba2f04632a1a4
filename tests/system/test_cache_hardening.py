"""Nothing outside the cache is ever touched: links planted in it, folders that are not caches,
things that are not files where files should be, bundles damaged in transfer.

A cache can be shared, and whoever can write into it can plant a symbolic link, a FIFO or a
folder where pipper expects a file. Each test plants one, runs the command that would have
followed it, and checks that a "victim" folder outside the cache is exactly as it was. The
repository is a local folder (no server) unless the case needs the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lib.cli import REPO_ROOT, CliResult, Graph, cli, one_error, pipper, publish_graph
from tests.lib.proxy import Faults, MakeProxy
from tests.lib.s3servers import S3Server
from tests.lib.wheels import make_bundle

GRAPH: Graph = {"app": {"1.0.0": ["lib"]}, "lib": {"1.0.0": []}}
APP, LIB = "app-v1-0-0.pipper", "lib-v1-0-0.pipper"
NOBODY = 65534
LONG_AGO = time.time() - 30 * 86400


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def blob(cache: Path, digest: str) -> Path:
    return cache / "blobs" / "sha256" / digest[:2] / digest


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (links not followed) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@dataclass(frozen=True)
class Warm:
    published: Path
    repo: list[str]
    cache: Path
    victim: Path

    def run(self, *args: str) -> CliResult:
        return cli(*args, *self.repo, "--cache-dir", str(self.cache))

    def cache_command(self, *args: str) -> CliResult:
        return cli("cache", *args, "--cache-dir", str(self.cache))


@pytest.fixture
def warm(tmp_path: Path) -> Warm:
    """A local repository, a cache filled by one download, and a victim folder beside them.

    The victim holds what each folder of a cache may hold, old enough for any prune: a file
    named like a blob (with other bytes), temporary files, index-like and listing-like JSON.
    """
    local = tmp_path / "repo"
    published = publish_graph(tmp_path, ["-b", str(local)], GRAPH, sizes={"lib": 50_000})
    cache = tmp_path / "cache"
    warm = Warm(published, ["-b", str(local)], cache, tmp_path / "victim")
    first = warm.run("download", "app", "-d", str(tmp_path / "first"))
    assert first.exit_code == 0, first.stderr
    warm.victim.mkdir()
    for name in ("ff" + "0" * 62, ".tmp-1-old.part", "old.part", "records.json", "precious.txt"):
        path = warm.victim / name
        path.write_bytes(b"precious " + name.encode())
        os.utime(path, (LONG_AGO, LONG_AGO))
    return warm


def _relink(folder: Path, target: Path) -> None:
    """Replace ``folder`` (inside the cache) with a symbolic link to ``target``."""
    if folder.is_dir() and not folder.is_symlink():
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                os.chmod(path, 0o644, follow_symlinks=False) if not path.is_symlink() else None
                path.unlink()
        folder.rmdir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(target, target_is_directory=True)


LINKED = {
    "shard": lambda cache: cache / "blobs" / "sha256" / "ff",
    "tmp": lambda cache: cache / "tmp",
    "index": lambda cache: cache / "index",
    "blobs-sha256": lambda cache: cache / "blobs" / "sha256",
    "listings": lambda cache: cache / "listings",
    "index-repo": lambda cache: next((cache / "index").iterdir()),
    "extracted": lambda cache: cache / "extracted",
    "extracted-wheel": lambda cache: cache / "extracted" / ("ab" * 32),
}
COMMANDS = {
    "verify": ["verify"],
    "prune": ["prune"],
    "prune-all": ["prune", "--all"],
    "prune-older": ["prune", "--older-than", "1"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("where", list(LINKED))
def test_maintenance_never_follows_a_link_below_the_cache_root(
    warm: Warm, where: str, command: str
) -> None:
    before = snapshot(warm.victim)
    link = LINKED[where](warm.cache)
    _relink(link, warm.victim)
    result = warm.cache_command(*COMMANDS[command])
    assert snapshot(warm.victim) == before, "a cache command changed files outside the cache"
    assert result.exit_code == 1
    line = one_error(result)
    assert "symbolic link" in line and str(link) in line, line
    assert link.is_symlink()


def test_a_root_that_is_a_link_is_the_users_choice(warm: Warm, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(warm.cache, target_is_directory=True)
    result = cli("cache", "verify", "--cache-dir", str(alias))
    assert result.exit_code == 0, result.stderr
    assert "All 2 cache entries are intact" in result.stderr


def _as_nobody(action: Callable[[], None]) -> None:
    """Run ``action`` in a forked child that has dropped root for ``nobody``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged step failed"


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="planting as another user needs root to switch users"
)


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Warm]:
    """A cache that every user may write into (1777, like /tmp), filled by root.

    It lives outside pytest's own (root-only) temporary folder so that ``nobody`` can reach it.
    """
    top = Path(tempfile.mkdtemp(prefix="pipper-shared-"))
    try:
        os.chmod(top, 0o755)
        local = tmp_path / "repo"
        published = publish_graph(tmp_path, ["-b", str(local)], GRAPH)
        cache = top / "cache"
        cache.mkdir(mode=0o1777)
        os.chmod(cache, 0o1777)
        warm = Warm(published, ["-b", str(local)], cache, top / "victim")
        first = warm.run("download", "app", "-d", str(tmp_path / "first"))
        assert first.exit_code == 0, first.stderr
        warm.victim.mkdir()
        (warm.victim / "root-owned.json").write_text("{}")
        yield warm
    finally:
        shutil.rmtree(top)


@needs_root
@pytest.mark.parametrize("plant", ["link", "folder"])
def test_root_refuses_what_another_user_planted_in_a_shared_cache(shared: Warm, plant: str) -> None:
    """``nobody`` plants listings/ (a cache filled from lock files has none yet) before root
    prunes or verifies."""
    listings = shared.cache / "listings"
    shutil.rmtree(listings)
    before = snapshot(shared.victim)

    def plant_listings() -> None:
        if plant == "link":
            listings.symlink_to(shared.victim, target_is_directory=True)
        else:
            (listings / "x").mkdir(parents=True)
            (listings / "x" / "old.json").symlink_to(shared.victim / "root-owned.json")

    _as_nobody(plant_listings)
    assert os.lstat(listings).st_uid == NOBODY
    for command in (["prune", "--all"], ["prune"], ["verify"]):
        result = shared.cache_command(*command)
        assert result.exit_code == 1
        line = one_error(result)
        assert str(listings) in line
        assert ("symbolic link" if plant == "link" else "another user") in line, line
    assert snapshot(shared.victim) == before
    assert blob(shared.cache, sha256(shared.published / LIB)).is_file()


# -- the mark: only a folder pipper made a cache is ever pruned ---------------------------------


def test_a_cache_is_marked_when_a_run_first_uses_it(warm: Warm) -> None:
    tag = warm.cache / "CACHEDIR.TAG"
    assert tag.read_bytes().startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    assert stat.S_ISREG(os.lstat(tag).st_mode)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_folder_that_is_no_cache_is_never_pruned(tmp_path: Path, command: str) -> None:
    """``cache prune --cache-dir .`` in a project folder: its tmp/ and index/ stay."""
    project = tmp_path / "project"
    for name in ("tmp/build.log", "index/toc.json", "index/part/a.json", "listings/x.json"):
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine")
        os.utime(path, (LONG_AGO, LONG_AGO))
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    result = cli("cache", *COMMANDS[command], "--cache-dir", str(project))
    assert result.exit_code == 1
    line = one_error(result)
    assert "not marked as a pipper cache" in line and str(project) in line, line
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_prune_reports_what_it_removed(warm: Warm) -> None:
    lib = blob(warm.cache, sha256(warm.published / LIB))
    os.chmod(lib, 0o644)
    lib.unlink()  # its index record now names nothing
    stale = warm.cache / "tmp" / ".tmp-1-dead.part"
    stale.write_bytes(b"x")
    os.utime(stale, (LONG_AGO, LONG_AGO))
    result = warm.cache_command("prune")
    assert result.exit_code == 0, result.stderr
    assert "Removed 0 entries (0 B), 1 temporary files, 1 index records; kept 1" in result.stderr


# -- what is not a regular file where a file belongs is damage: never followed, never waited on --


def _folder(path: Path, _: Path) -> None:
    path.mkdir()
    (path / "x").write_bytes(b"x")


PLANTS: dict[str, Callable[[Path, Path], None]] = {
    "link": lambda path, target: path.symlink_to(target),
    "fifo": lambda path, _: os.mkfifo(path),
    "folder": _folder,
}


def _plant_blob(warm: Warm, plant: str) -> tuple[str, dict[str, bytes]]:
    """Put ``plant`` where lib's blob was; a link points at a file outside the cache with the
    very bytes the blob should have, which someone else controls. Returns the digest and the
    victim folder as it was."""
    digest = sha256(warm.published / LIB)
    good = warm.victim / "lib-copy.pipper"
    good.write_bytes((warm.published / LIB).read_bytes())
    path = blob(warm.cache, digest)
    os.chmod(path, 0o644)
    path.unlink()
    PLANTS[plant](path, good)
    return digest, snapshot(warm.victim)


@pytest.mark.parametrize("plant", list(PLANTS))
def test_a_blob_that_is_no_regular_file_is_fetched_again_and_never_linked_out(
    tmp_path: Path, warm: Warm, plant: str
) -> None:
    digest, before = _plant_blob(warm, plant)
    out = tmp_path / "out"
    result = pipper(
        "download", "app", "-d", str(out), *warm.repo, "--cache-dir", str(warm.cache), timeout=60
    )
    assert result.returncode == 0, result.stderr
    for name in (APP, LIB):
        mode = os.lstat(out / name).st_mode
        assert stat.S_ISREG(mode), f"{name} in the output folder is not a regular file"
        assert sha256(out / name) == sha256(warm.published / name)
    assert stat.S_ISREG(os.lstat(blob(warm.cache, digest)).st_mode)
    assert sha256(blob(warm.cache, digest)) == digest
    assert snapshot(warm.victim) == before


@pytest.mark.parametrize("plant", list(PLANTS))
def test_cache_verify_removes_what_is_no_regular_file_without_following_it(
    warm: Warm, plant: str
) -> None:
    digest, before = _plant_blob(warm, plant)
    result = pipper("cache", "verify", "--cache-dir", str(warm.cache), timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"damaged: {digest}" in result.stderr
    assert not os.path.lexists(blob(warm.cache, digest))
    assert snapshot(warm.victim) == before


def _index_folder(cache: Path) -> Path:
    (folder,) = [p for p in (cache / "index").iterdir()]
    return folder


@pytest.mark.parametrize("plant", ["fifo", "link", "folder"])
def test_an_index_file_that_is_no_regular_file_is_ignored(
    tmp_path: Path, warm: Warm, plant: str
) -> None:
    (record,) = _index_folder(warm.cache).iterdir()
    record.unlink()
    PLANTS[plant](record, warm.victim / "records.json")
    before = snapshot(warm.victim)
    out = tmp_path / "out"
    result = pipper(
        "download", "app", "-d", str(out), *warm.repo, "--cache-dir", str(warm.cache), timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert sha256(out / LIB) == sha256(warm.published / LIB)
    assert snapshot(warm.victim) == before
    assert not os.path.lexists(record)


@pytest.mark.parametrize("plant", ["fifo", "link"])
def test_a_listing_that_is_no_regular_file_is_never_read_offline(
    tmp_path: Path, warm: Warm, plant: str
) -> None:
    """Even a link to a perfectly good listing: what it says is someone else's to change."""
    listings = [p for p in (warm.cache / "listings").rglob("*.json")]
    assert listings
    for n, listing in enumerate(listings):
        copy = warm.victim / f"listing-{n}.json"
        copy.write_bytes(listing.read_bytes())
        listing.unlink()
        PLANTS[plant](listing, copy)
    args = ["-d", str(tmp_path / "out"), *warm.repo, "--cache-dir", str(warm.cache)]
    result = pipper("download", "app", "--offline", *args, timeout=60)
    assert result.returncode == 9, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_a_linked_listings_folder_never_makes_pipper_write_outside_the_cache(
    tmp_path: Path, warm: Warm
) -> None:
    (repo_folder,) = [p for p in (warm.cache / "listings").iterdir()]
    names = sorted(p.name for p in repo_folder.iterdir())
    for name in names:
        (warm.victim / name).write_bytes(b"precious")
    before = snapshot(warm.victim)
    _relink(repo_folder, warm.victim)
    result = warm.run("download", "app", "-d", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert snapshot(warm.victim) == before
    assert not repo_folder.is_symlink() and repo_folder.is_dir()
    assert sorted(p.name for p in repo_folder.iterdir()) == names


def test_a_run_refuses_a_cache_whose_own_folders_are_links(tmp_path: Path, warm: Warm) -> None:
    _relink(warm.cache / "tmp", warm.victim)
    before = snapshot(warm.victim)
    result = warm.run("download", "app", "-d", str(tmp_path / "out"))
    assert result.exit_code == 1
    line = one_error(result)
    assert "symbolic link" in line and str(warm.cache / "tmp") in line
    assert snapshot(warm.victim) == before


def test_placing_a_file_never_places_a_link(tmp_path: Path) -> None:
    from pipper.fsutil import atomic_link_or_copy

    real = tmp_path / "real.pipper"
    real.write_bytes(b"bytes")
    link = tmp_path / "link.pipper"
    link.symlink_to(real)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        atomic_link_or_copy(link, out / "placed.pipper")
    assert not os.path.lexists(out / "placed.pipper")
    assert atomic_link_or_copy(real, out / "placed.pipper") == "link"
    assert os.path.samefile(real, out / "placed.pipper")
    assert [p.name for p in out.iterdir()] == ["placed.pipper"]
    # A file already there (an older download) is replaced in one step, by the new one.
    newer = tmp_path / "newer.pipper"
    newer.write_bytes(b"newer bytes")
    assert atomic_link_or_copy(newer, out / "placed.pipper") == "link"
    assert os.path.samefile(newer, out / "placed.pipper") and real.read_bytes() == b"bytes"
    assert [p.name for p in out.iterdir()] == ["placed.pipper"]
    # So is a link put where the file goes: replaced, never followed.
    (out / "placed.pipper").unlink()
    (out / "placed.pipper").symlink_to(real)
    assert atomic_link_or_copy(newer, out / "placed.pipper") == "link"
    assert not (out / "placed.pipper").is_symlink() and real.read_bytes() == b"bytes"
    assert [p.name for p in out.iterdir()] == ["placed.pipper"]


# -- a bundle damaged in transfer is never cached -----------------------------------------------


def _flipped(bundle: Path) -> bytes:
    """The bundle with one byte changed inside its stored wheel: the zip still opens, its meta
    still reads, only the wheel entry's CRC-32 tells."""
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def test_a_bundle_damaged_in_transfer_is_never_cached(
    tmp_path: Path, s3_server: S3Server, bucket: str, s3_env: dict[str, str]
) -> None:
    """An object the original published (no ``sha256`` metadata) whose bytes were damaged."""
    bundles = tmp_path / "bundles"
    make_bundle(bundles, "lib", "1.0.0", payload_size=100_000)
    s3_server.client().put_object(
        Bucket=bucket, Key="pipper/lib/v1-0-0.pipper", Body=_flipped(bundles / LIB)
    )
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["-b", bucket, "--cache-dir", str(cache)]
    for _ in range(2):  # and the second run does not find it cached either
        result = cli("download", "lib", "-d", str(out), *args)
        assert result.exit_code == 7
        line = one_error(result)
        assert "pipper/lib/v1-0-0.pipper" in line and "CRC" in line, line
        assert ".tmp-" not in line
        assert not any(p.is_file() for p in (cache / "blobs").rglob("*"))
        assert not (cache / "index").exists() or not any((cache / "index").rglob("*.json"))
        assert not out.exists() or not any(out.iterdir())


def test_cache_verify_finds_a_bundle_an_earlier_version_cached_damaged(tmp_path: Path) -> None:
    from pipper.cache import Cache

    bundles = tmp_path / "bundles"
    make_bundle(bundles, "lib", "1.0.0", payload_size=100_000)
    cache = Cache(tmp_path / "cache")
    cache.prepare()
    damaged = _flipped(bundles / LIB)
    digest = hashlib.sha256(damaged).hexdigest()
    with cache.pending() as part:
        part.handle.write(damaged)  # hashes to its name: only the CRC tells
        part.commit(digest)
    with cache.pending() as part:
        part.handle.write((bundles / LIB).read_bytes())
        part.commit(sha256(bundles / LIB))
    result = cli("cache", "verify", "--cache-dir", str(cache.root))
    assert result.exit_code == 1
    assert f"damaged: {digest}" in result.stderr
    assert "1 of 2 cache entries were damaged" in result.stderr
    assert not blob(cache.root, digest).exists()
    assert blob(cache.root, sha256(bundles / LIB)).is_file()


# -- smaller: SIGTERM, caps, the path at fault, full or read-only folders ----------------------


def test_sigterm_mid_download_leaves_no_temporary_file(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], make_proxy: MakeProxy
) -> None:
    publish_graph(tmp_path, ["-b", bucket], {"big": {"1.0.0": []}}, sizes={"big": 3_000_000})
    stall = make_proxy(faults=Faults(stall_rate=1.0, stall_seconds=30, only={"get"}))
    cache = tmp_path / "cache"
    where = ["-b", bucket, "--endpoint-url", stall.url, "--cache-dir", str(cache)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipper", "download", "big", *where, "-d", str(tmp_path / "out")],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size for p in (cache / "tmp").glob("*.part")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the download never started writing its body"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM  # pipper ends cleanly on SIGTERM
    assert list((cache / "tmp").iterdir()) == []
    assert [p for p in cache.rglob(".tmp-*")] == []


def test_records_and_listings_are_read_with_a_size_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipper.cache import Cache, listings, records
    from pipper.storage.base import ObjectInfo

    cache = Cache(tmp_path / "cache")
    many = [ObjectInfo(key=f"pipper/p/v{n}.pipper", size=n, etag=f'"{n}"') for n in range(50)]
    cache.save_listing("s3://b/pipper", "p", many)
    cache.listings.flush()
    digest = "ab" * 32
    cache.records.remember("s3://b/pipper", "pipper/p/v1.pipper", '"1"', digest, 1)
    cache.records.flush()
    assert Cache(cache.root).load_listing("s3://b/pipper", "p") == many
    assert Cache(cache.root).records.lookup("s3://b/pipper", "pipper/p/v1.pipper", '"1"') == digest
    monkeypatch.setattr(listings, "LISTING_LIMIT", 1000)
    monkeypatch.setattr(records, "INDEX_LIMIT", 50, raising=False)
    assert Cache(cache.root).load_listing("s3://b/pipper", "p") is None
    assert Cache(cache.root).records.lookup("s3://b/pipper", "pipper/p/v1.pipper", '"1"') is None


def test_an_error_names_the_path_at_fault_not_a_temporary_file(tmp_path: Path, warm: Warm) -> None:
    out = tmp_path / "out"
    (out / LIB).mkdir(parents=True)  # the output's name is taken by a folder
    result = warm.run("download", "app", "-d", str(out))
    assert result.exit_code != 0
    line = one_error(result)
    assert ".tmp-" not in line and str(out / LIB) in line, line


def _in_own_mounts(script: str, *args: str) -> list[str]:
    """A command run in a mount namespace of its own (``unshare``), where ``script`` (sh) sets
    up its mounts first; the test's own view of the file system is never changed."""
    return ["unshare", "-rm", "sh", "-c", f'{script} && exec "$@"', "sh", *args]


def _pipper_mounted(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``pipper ARGS`` as a real process, after ``script`` set up its own mounts."""
    return subprocess.run(
        _in_own_mounts(script, sys.executable, "-m", "pipper", *args),
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _can_mount(tmp_path: Path) -> bool:
    probe = subprocess.run(
        _in_own_mounts(f"mount -t tmpfs tmpfs {tmp_path}", "true"), capture_output=True
    )
    return shutil.which("unshare") is not None and probe.returncode == 0


def test_a_full_output_folder_is_not_reported_as_a_full_cache(tmp_path: Path, warm: Warm) -> None:
    if not _can_mount(tmp_path):
        pytest.skip("this machine lets no process mount a small tmpfs (unshare -rm)")
    out = tmp_path / "full"
    out.mkdir()
    mount = f"mount -t tmpfs -o size=32k tmpfs {out}"
    args = [*warm.repo, "--cache-dir", str(warm.cache), "-d", str(out)]
    result = _pipper_mounted(mount, "download", "app", *args)
    assert result.returncode != 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "No space left" in line, result.stderr
    assert str(out) in line and str(warm.cache) not in line and ".tmp-" not in line, line


def test_a_read_only_warm_cache_serves_an_online_download(
    tmp_path: Path, bucket: str, s3_env: dict[str, str]
) -> None:
    if not _can_mount(tmp_path):
        pytest.skip("this machine lets no process mount a read-only view (unshare -rm)")
    published = publish_graph(tmp_path, ["-b", bucket], GRAPH)
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["-b", bucket, "--cache-dir", str(cache)]
    assert cli("cache", "warm", "app", *args).exit_code == 0
    read_only = f"mount --bind {cache} {cache} && mount -o remount,ro,bind {cache} {cache}"
    result = _pipper_mounted(read_only, "download", "app", "-d", str(out), *args)
    assert result.returncode == 0, result.stderr
    for name in (APP, LIB):
        assert sha256(out / name) == sha256(published / name)


@pytest.mark.parametrize("plant", ["link", "fifo"])
def test_a_lock_file_that_is_no_regular_file_is_refused(
    tmp_path: Path, warm: Warm, plant: str
) -> None:
    lock = warm.cache / "lock"
    lock.unlink()
    target = warm.victim / "created-through-the-lock"
    PLANTS[plant](lock, target)
    for args in (["download", "app", "-d", str(tmp_path / "out"), *warm.repo], ["cache", "prune"]):
        result = pipper(*args, "--cache-dir", str(warm.cache), timeout=60)
        assert result.returncode == 1, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith("error: ") and str(lock) in line, line
    assert not target.exists()
