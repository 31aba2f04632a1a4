"""What every scenario shares: the server and proxies, scratch folders, environments, timing.

One ``Bench`` lives for one run. A scenario is a function of the bench: it times commands with
``timed`` (the proxy's counters reset around each), keeps its numbers in ``results[name]`` (the
JSON) and its table in ``sections``. A scenario that fails is recorded and the run goes on, so
one broken scenario still leaves the others' numbers.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import graph as G
from benchmarks import procs
from benchmarks.bound import Bound
from benchmarks.original import original_env
from benchmarks.procs import Measured
from benchmarks.report import Section
from benchmarks.samples import Published
from benchmarks.settings import Settings
from tests.lib.proxy import Proxy
from tests.lib.s3servers import S3Server, start_server

COUNTED = ("list", "get", "head", "put", "all")


class Unavailable(Exception):
    """A scenario that cannot run here (a command not written yet); reported, not an error."""


class Bench:
    def __init__(self, settings: Settings, argv: Sequence[str]) -> None:
        self.s = settings
        self.argv = list(argv)
        self.results: dict[str, Any] = {}
        self.errors: list[str] = []
        self.sections: list[Section] = []
        self.server: S3Server | None = None
        self.proxy: Proxy | None = None
        self.proxy_zero: Proxy | None = None
        self.client: Any = None
        self.scratch = settings.work / "runs" / str(os.getpid())
        self.logs = settings.work / "logs"
        self._counter = 0
        self._stoppers: list[Callable[[], None]] = []
        self.main: Published | None = None
        self.original_script: Path | None = None
        self._bound: Bound | None = None
        self.python = procs.checkout_python(settings.work / "pipper-python")
        """The interpreter every pipper command runs with (``procs.checkout_python``)."""

    @property
    def bound(self) -> Bound:
        """The physical bound of this run, computed once from the start-up and throughput."""
        if self._bound is None:
            if "python -c pass" not in self.results.get("startup", {}) or (
                "proxy_bytes_per_s" not in self.results.get("throughput", {})
            ):
                raise RuntimeError("the bound needs the start-up and throughput steps; see above")
            self._bound = Bound.from_results(self.results, self.s.latency_ms)
        return self._bound

    def step(self, name: str, fn: Callable[[], None]) -> None:
        print(f"== {name} ...", flush=True)
        started = time.perf_counter()
        try:
            fn()
        except Unavailable as exc:
            self.results.setdefault(name, {})["skipped"] = str(exc)
            print(f"   skipped: {exc}", flush=True)
        except Exception as exc:
            self.errors.append(f"{name}: {exc}")
            self.results.setdefault(name, {})["error"] = str(exc)
            (self.logs / f"{name.replace(' ', '-')}-error.txt").write_text(traceback.format_exc())
            print(f"   FAILED: {exc}", flush=True)
        print(f"   {name}: {time.perf_counter() - started:.1f} s", flush=True)

    # -- the server, behind a proxy that adds latency -----------------------------------------

    def start_server(self) -> None:
        kind = self.s.server
        try:
            self.server = start_server(kind or "seaweedfs")
        except Exception as exc:
            if kind is not None:
                raise
            print(f"   SeaweedFS did not start ({exc}); using moto instead", flush=True)
            self.server = start_server("moto")
        self.proxy = self.latency_proxy(self.server.endpoint_url)
        self.proxy_zero = self.latency_proxy(self.server.endpoint_url, latency_ms=0)
        self.client = self.server.client()
        self.results["server"] = {"kind": self.server.kind, "latency_ms": self.s.latency_ms}

    def latency_proxy(self, upstream: str, latency_ms: float | None = None) -> Proxy:
        """A counting proxy in front of ``upstream`` (the run's latency unless told), stopped
        with the bench."""
        latency = self.s.latency_ms if latency_ms is None else latency_ms
        proxy = Proxy(upstream, latency_ms=latency).start()
        self.on_stop(proxy.stop)
        return proxy

    def on_stop(self, stop: Callable[[], None]) -> None:
        """Run ``stop`` when the bench stops (last registered, first stopped)."""
        self._stoppers.append(stop)

    def stop(self) -> None:
        while self._stoppers:
            self._stoppers.pop()()
        if self.server is not None:
            self.server.stop()

    def publish(self, bucket: str, graph: G.Graph, *, declare_requires: bool = False) -> Published:
        """Build (or reuse) the graph's bundles and upload them into a new bucket."""
        bundles = G.build(graph, self.s.work, declare_requires=declare_requires)
        self.client.create_bucket(Bucket=bucket)
        G.publish(self.client, bucket, bundles)
        return Published(bucket, graph, G.current_bundle_bytes(graph, bundles), bundles)

    # -- processes ----------------------------------------------------------------------------

    def pipper_cmd(self, *args: str) -> list[str]:
        return procs.pipper_cmd(self.python, *args)

    def fresh(self, label: str) -> Path:
        self._counter += 1
        path = self.scratch / f"{label}-{self._counter}"
        path.mkdir(parents=True)
        return path

    @property
    def ours_env(self) -> dict[str, str]:
        return self.ours_env_via(self.proxy)

    def ours_env_via(self, proxy: Proxy | None, server: S3Server | None = None) -> dict[str, str]:
        """pipper's environment, reaching ``server`` (the run's unless told) via ``proxy``."""
        server = server or self.server
        assert server is not None and proxy is not None
        return procs.ours_env(self.scratch / "home", server.env(proxy.url))

    @property
    def original_env(self) -> dict[str, str]:
        assert self.server is not None and self.proxy is not None
        return original_env(self.scratch / "home-original", self.server.env(self.proxy.url))

    def timed(
        self, label: str, cmd: Sequence[str], env: dict[str, str], proxy: Proxy | None = None
    ) -> tuple[Measured, dict[str, int]]:
        """Run one command with the proxy's counters reset; its output goes to a log file."""
        proxy = proxy or self.proxy
        assert proxy is not None
        proxy.reset()
        measured = procs.run(cmd, env, cwd=self.scratch, log=self.log(label))
        counts = {k: proxy.count(k) for k in COUNTED}
        return measured, counts

    def log(self, label: str) -> Path:
        return self.logs / f"{label}.log"
