"""A real PyPI-compatible index on loopback for tests and benchmarks: pypiserver (PyPI).

Public dependencies are resolved by pip against an index, so tests need one that speaks the
simple API the way PyPI does, with no internet: pypiserver serves the wheels of one folder as a
PEP 503 index at ``http://127.0.0.1:PORT/simple/``. It runs with the ``simple-dir`` backend,
which rescans the folder on every request, so a wheel a test publishes mid-way is seen by the
next request, and with ``--disable-fallback``, so a name it does not hold is a 404 instead of a
redirect to pypi.org. Kept free of pytest, like ``s3servers``, so a benchmark can start one too.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.lib.polling import wait_for
from tests.lib.s3servers import _die_with_parent, _prctl, _tail, _terminate, find_executable
from tests.lib.s3servers import free_port as _free_port
from tests.lib.wheels import make_wheel

__all__ = ["PypiServer", "running_pypi_server", "start_pypi_server"]

READY_TIMEOUT = 30.0


@dataclass(eq=False)
class PypiServer:
    """A running pypiserver, the folder it serves, and how pip reaches it."""

    url: str
    """The server's root, ``http://127.0.0.1:PORT``."""
    packages: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    _owned: list[Path] = field(default_factory=list, repr=False)

    @property
    def index_url(self) -> str:
        """What ``pip --index-url`` takes: the PEP 503 simple index."""
        return f"{self.url}/simple/"

    def publish(
        self,
        name: str,
        version: str,
        *,
        requires: Sequence[str] = (),
        module: str | None = None,
    ) -> Path:
        """Write a fresh wheel of ``name`` ``version`` into the served folder."""
        with tempfile.TemporaryDirectory(prefix="pipper-pypi-wheel-") as tmp:
            wheel = make_wheel(Path(tmp), name, version, requires=requires, module=module)
            target = self.packages / wheel.name
            shutil.move(wheel, target)
        return target

    def add(self, wheel: Path) -> Path:
        """Serve an existing wheel file (copied in)."""
        target = self.packages / wheel.name
        shutil.copyfile(wheel, target)
        return target

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the server (its folder stays until the owner removes it); safe to call twice."""
        _terminate(self.process, graceful=False)
        for folder in self._owned:
            shutil.rmtree(folder, ignore_errors=True)
        self._owned.clear()

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self) -> PypiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pypi_server_command(port: int, packages: Path) -> list[str]:
    exe = find_executable("pypi-server")
    base = [exe] if exe else [sys.executable, "-m", "pypiserver"]
    return [
        *base,
        "run",
        "-p",
        str(port),
        "-i",
        "127.0.0.1",
        "-a",
        ".",
        "-P",
        ".",
        "--disable-fallback",
        "--backend",
        "simple-dir",
        str(packages),
    ]


def start_pypi_server(packages: Path | None = None, *, attempts: int = 3) -> PypiServer:
    """Start pypiserver on a free port of 127.0.0.1 serving ``packages`` (a fresh folder by
    default, removed by ``stop()``), and wait until it answers its health endpoint.

    A port taken between choosing it and binding it makes the server exit; that is retried.
    """
    owned: list[Path] = []
    if packages is None:
        packages = Path(tempfile.mkdtemp(prefix="pipper-pypi-"))
        owned.append(packages)
    packages.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="pipper-pypi-log-"))
    owned.append(log_dir)
    last: Exception | None = None
    for _ in range(attempts):
        port = _free_port()
        log_path = log_dir / f"pypiserver-{port}.log"
        in_main_thread = threading.current_thread() is threading.main_thread()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                pypi_server_command(port, packages),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if in_main_thread and _prctl else None,
            )
        server = PypiServer(f"http://127.0.0.1:{port}", packages, process, log_path, owned)
        try:
            _wait_ready(server)
            return server
        except RuntimeError as exc:
            last = exc
            _terminate(process, graceful=False)
    for folder in owned:
        shutil.rmtree(folder, ignore_errors=True)
    assert last is not None
    raise last


@contextlib.contextmanager
def running_pypi_server(packages: Path | None = None) -> Iterator[PypiServer]:
    server = start_pypi_server(packages)
    try:
        yield server
    finally:
        server.stop()


def _wait_ready(server: PypiServer, timeout: float = READY_TIMEOUT) -> None:
    """Poll the health endpoint until it answers 200; a process that died is an error at once."""

    def healthy() -> bool:
        if not server.alive():
            raise RuntimeError(
                f"pypiserver exited with code {server.process.returncode} before it was ready; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    try:
        wait_for(healthy, timeout, interval=0.05, what=f"pypiserver at {server.url}")
    except AssertionError as exc:
        raise RuntimeError(f"{exc}; log {server.log_path}:\n{server.log_tail()}") from None
