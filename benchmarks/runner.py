"""The benchmark runner: ``python -m benchmarks [--quick | --smoke] [options]``.

One process does everything: it starts an S3 server on loopback (SeaweedFS, or moto where
SeaweedFS cannot start) behind ``tests.lib.proxy.Proxy`` with a fixed latency per request,
publishes synthetic graphs, installs the original pipper 0.11.1 into its own venv, and times
both tools as fresh processes on the same buckets. Every timing is the median of several runs
and is reported as a ratio: to the original, and to the physical bound of the run.

The bound of a cold download is ``levels x 2 round trips x latency + bytes / throughput``:
each level of the graph needs one LIST (which versions exist) and one GET whose response
headers carry the dependencies, so the next level can start while bodies still stream. The
throughput is measured with one large GET through the same proxy. The interpreter's start-up
(``python -c pass``) is added, since a user waits for it too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import graph as G
from benchmarks import procs
from benchmarks.original import ensure_venv, original_env
from benchmarks.procs import REPO_ROOT, Measured
from benchmarks.report import (
    Section,
    command_line,
    describe_machine,
    machine,
    markdown_table,
    mib,
    ratio,
    seconds,
    size,
    text_table,
)
from tests.lib.proxy import Proxy
from tests.lib.s3servers import S3Server, start_server

BENCH_DIR = Path(__file__).resolve().parent
ROUND_TRIPS_PER_LEVEL = 2
SCENARIOS = ("download", "probe", "install", "memory", "scaling")
TARGETS = {
    "cold_vs_original": 20.0,
    "cold_vs_bound": 1.5,
    "install_vs_original": 5.0,
    "rss_delta_mib": 50.0,
    "help_seconds": 0.3,
}


class Unavailable(Exception):
    """A scenario that cannot run here (a command not written yet); reported, not an error."""


@dataclass
class Settings:
    mode: str
    packages: int
    depth: int
    latency_ms: float
    repeat: int
    original_repeat: int
    scale_repeat: int
    install_packages: int
    install_depth: int
    scale_counts: list[int]
    concurrencies: list[int]
    scenarios: set[str]
    original: bool
    startup_repeat: int
    throughput_bytes: int
    big_bundle_bytes: int
    server: str | None
    seed: int
    json_out: Path
    md_out: Path
    work: Path


def parse_args(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark pipper against the original pipper 0.11.1 and the physical bound.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a small run (about 2-4 minutes)")
    mode.add_argument(
        "--smoke", action="store_true", help="a tiny run for the test suite: no original, no 1 GiB"
    )
    parser.add_argument("--latency-ms", type=float, default=20.0, help="delay per request (20)")
    parser.add_argument("--packages", type=int, help="packages in the main graph (200)")
    parser.add_argument("--depth", type=int, help="levels of the main graph (6)")
    parser.add_argument("--repeat", type=int, help="runs per measurement of pipper (5)")
    parser.add_argument(
        "--json-out",
        type=Path,
        help="where the JSON goes, a .md beside it (benchmarks/results/latest.json)",
    )
    parser.add_argument("--skip-original", action="store_true", help="do not run the original")
    parser.add_argument("--server", choices=("seaweedfs", "moto"), help="S3 server (seaweedfs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic graphs (0)")
    parser.add_argument(
        "--only",
        help=f"comma-separated scenarios to run, of {','.join(SCENARIOS)} (default: all; "
        "the 1 GiB memory run is skipped by --quick and --smoke unless named here)",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=BENCH_DIR / ".work", help="cache folder (.work)"
    )
    args = parser.parse_args(list(argv))

    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    packages = args.packages or (12 if args.smoke else 200)
    depth = args.depth or (3 if args.smoke else 6)
    repeat = args.repeat or {"smoke": 1, "quick": 3, "full": 5}[name]
    if packages < depth or depth < 1 or repeat < 1:
        parser.error("need --depth >= 1, --packages >= --depth and --repeat >= 1")
    json_out = args.json_out or BENCH_DIR / "results" / "latest.json"
    if args.only:
        scenarios = {x.strip() for x in args.only.split(",") if x.strip()}
        unknown = scenarios - set(SCENARIOS)
        if unknown:
            parser.error(f"unknown scenarios in --only: {', '.join(sorted(unknown))}")
    else:
        scenarios = set(SCENARIOS) if name == "full" else set(SCENARIOS) - {"memory"}
    scale = {"smoke": [6, 12], "quick": [50, 200], "full": [50, 200, 800]}[name]
    return Settings(
        mode=name,
        packages=packages,
        depth=depth,
        latency_ms=args.latency_ms,
        repeat=repeat,
        original_repeat=min(repeat, {"smoke": 1, "quick": 1, "full": 3}[name]),
        scale_repeat=min(repeat, 3),
        install_packages=5 if args.smoke else 30,
        install_depth=min(depth, 3 if args.smoke else 4),
        scale_counts=sorted({*scale, packages}) if not args.smoke else scale,
        concurrencies=[1, 8] if args.smoke else [1, 8, 32, 128],
        scenarios=scenarios,
        original=not (args.skip_original or args.smoke),
        startup_repeat=3 if args.smoke else 10,
        throughput_bytes=(8 if args.smoke else 64) * 1024 * 1024,
        big_bundle_bytes=1024**3,
        server=args.server,
        seed=args.seed,
        json_out=json_out,
        md_out=json_out.with_suffix(".md"),
        work=args.work_dir,
    )


@dataclass
class Run:
    """One timed process: its wall time, peak RSS and the requests the proxy saw."""

    seconds: float
    cpu_seconds: float
    maxrss_kib: int
    requests: dict[str, int]
    pipper: dict[str, Any] = field(default_factory=dict)


@dataclass
class Series:
    runs: list[Run]

    @property
    def median(self) -> float:
        return procs.median([r.seconds for r in self.runs])

    @property
    def cpu_median(self) -> float:
        return procs.median([r.cpu_seconds for r in self.runs])

    @property
    def best(self) -> float:
        return min(r.seconds for r in self.runs)

    def max_requests(self, kind: str) -> int:
        return max(r.requests.get(kind, 0) for r in self.runs)

    def requests_text(self) -> str:
        first = self.runs[0].requests
        return f"{first['list']}/{first['get']}/{first['head']}"

    def to_json(self) -> dict[str, Any]:
        return {
            "median_s": round(self.median, 4),
            "runs_s": [round(r.seconds, 4) for r in self.runs],
            "cpu_median_s": round(self.cpu_median, 4),
            "cpu_runs_s": [round(r.cpu_seconds, 4) for r in self.runs],
            "max_rss_mib": round(max(r.maxrss_kib for r in self.runs) / 1024, 1),
            "requests": [r.requests for r in self.runs],
            "pipper": self.runs[0].pipper or None,
        }


@dataclass
class Published:
    bucket: str
    graph: G.Graph
    bundle_bytes: int


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
        self.main: Published | None = None
        self.original_script: Path | None = None
        self.download_series: dict[str, Series] = {}
        self.install_series: dict[str, Series] = {}
        self.bounds: dict[str, float] = {}

    # -- plumbing ---------------------------------------------------------------------------

    def run(self) -> None:
        s = self.s
        s.work.mkdir(parents=True, exist_ok=True)
        (s.work / ".gitignore").write_text("*\n")
        self.logs.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        self.results["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
        try:
            self.step("server", self.start_server)
            if self.server is None:
                return
            self.step("startup", self.startup)
            self.step("throughput", self.throughput)
            self.step("publish", self.publish_main)
            wanted = s.scenarios
            if s.original and {"download", "install"} & wanted:
                self.step("original venv", self.original_venv)
            if "download" in wanted:
                self.step("download", self.download)
                self.step("bound", self.bound)
            if "probe" in wanted:
                self.step("probe", self.probe)
            if "install" in wanted:
                self.step("install", self.install)
            if "memory" in wanted:
                self.step("memory", self.memory)
            if "scaling" in wanted:
                self.step("scaling", self.scaling)
        finally:
            self.stop()
            shutil.rmtree(self.scratch, ignore_errors=True)
        self.results["elapsed_s"] = round(time.perf_counter() - started, 1)
        self.results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        self.targets()

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

    def start_server(self) -> None:
        kind = self.s.server
        try:
            self.server = start_server(kind or "seaweedfs")
        except Exception as exc:
            if kind is not None:
                raise
            print(f"   SeaweedFS did not start ({exc}); using moto instead", flush=True)
            self.server = start_server("moto")
        self.proxy = Proxy(self.server.endpoint_url, latency_ms=self.s.latency_ms).start()
        self.proxy_zero = Proxy(self.server.endpoint_url, latency_ms=0).start()
        self.client = self.server.client()
        self.results["server"] = {"kind": self.server.kind, "latency_ms": self.s.latency_ms}

    def stop(self) -> None:
        for proxy in (self.proxy, self.proxy_zero):
            if proxy is not None:
                proxy.stop()
        if self.server is not None:
            self.server.stop()

    def fresh(self, label: str) -> Path:
        self._counter += 1
        path = self.scratch / f"{label}-{self._counter}"
        path.mkdir(parents=True)
        return path

    @property
    def ours_env(self) -> dict[str, str]:
        return self.ours_env_via(self.proxy)

    def ours_env_via(self, proxy: Proxy | None) -> dict[str, str]:
        assert self.server is not None and proxy is not None
        return procs.ours_env(self.scratch / "home", self.server.env(proxy.url))

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
        measured = procs.run(cmd, env, cwd=self.scratch, log=self.logs / f"{label}.log")
        counts = {k: proxy.count(k) for k in ("list", "get", "head", "put", "all")}
        return measured, counts

    def publish(self, bucket: str, graph: G.Graph) -> Published:
        bundles = G.build(graph, self.s.work)
        self.client.create_bucket(Bucket=bucket)
        G.publish(self.client, bucket, bundles)
        return Published(bucket, graph, G.current_bundle_bytes(graph, bundles))

    # -- scenarios --------------------------------------------------------------------------

    def startup(self) -> None:
        s = self.s
        bare = procs.clean_env(self.scratch / "home")
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], bare),
            "pipper --version": (procs.pipper_cmd("--version"), self.ours_env),
            "pipper --help": (procs.pipper_cmd("--help"), self.ours_env),
        }
        found: dict[str, float] = {}
        for name, (cmd, env) in commands.items():
            procs.run(cmd, env).check(name)  # writes the .pyc files before timing
            found[name] = procs.median(
                [procs.run(cmd, env).check(name).seconds for _ in range(s.startup_repeat)]
            )
        self.results["startup"] = {k: round(v, 4) for k, v in found.items()}
        section = Section(f"Start-up (median of {s.startup_repeat})", ["command", "time"])
        for name, value in found.items():
            section.add(name, seconds(value))
        self.sections.append(section)

    def throughput(self) -> None:
        """One large GET, timed on the client, through the proxy (and straight, for reference)."""
        assert self.server is not None and self.proxy is not None
        bucket = "bench-throughput"
        self.client.create_bucket(Bucket=bucket)
        blob = random.Random(1).randbytes(self.s.throughput_bytes)
        self.client.put_object(Bucket=bucket, Key="blob", Body=blob)
        del blob

        def best(client: Any, latency: float) -> float:
            client.head_object(Bucket=bucket, Key="blob")  # opens the connection
            times = []
            for _ in range(3):
                started = time.perf_counter()
                body = client.get_object(Bucket=bucket, Key="blob")["Body"]
                while body.read(1024 * 1024):
                    pass
                times.append(time.perf_counter() - started - latency)
            return self.s.throughput_bytes / max(min(times), 1e-6)

        proxied = best(self.server.client(endpoint_url=self.proxy.url), self.s.latency_ms / 1000)
        direct = best(self.server.client(), 0.0)
        self.results["throughput"] = {
            "object_bytes": self.s.throughput_bytes,
            "proxy_bytes_per_s": round(proxied),
            "direct_bytes_per_s": round(direct),
        }

    def publish_main(self) -> None:
        s = self.s
        graph = G.generate(s.packages, s.depth, seed=s.seed)
        self.main = self.publish("bench-main", graph)
        big = sum(1 for p in graph.packages if p.payload_size >= G.BIG[0])
        self.results["graph"] = {
            "packages": len(graph.packages),
            "levels": graph.levels,
            "big_bundles": big,
            "bundle_bytes": self.main.bundle_bytes,
            "edges": sum(len(p.dependencies) for p in graph.packages),
            "older_versions": sum(1 for p in graph.packages if p.old_version),
        }

    def original_venv(self) -> None:
        self.original_script = ensure_venv(self.s.work)

    def ours_download(
        self,
        label: str,
        published: Published,
        cache: Path,
        *,
        offline: bool = False,
        concurrency: int | None = None,
        zero_latency: bool = False,
    ) -> Run:
        dest = self.fresh("dest")
        args = ["download", published.graph.root, "-b", published.bucket, "-d", str(dest)]
        args += ["--cache-dir", str(cache), "--json"]
        if offline:
            args.append("--offline")
        if concurrency is not None:
            args += ["--concurrency", str(concurrency)]
        proxy = self.proxy_zero if zero_latency else self.proxy
        measured, counts = self.timed(
            label, procs.pipper_cmd(*args), self.ours_env_via(proxy), proxy
        )
        measured.check(f"pipper download ({label})", self.logs / f"{label}.log")
        data = json.loads(measured.stdout)
        expected = len(published.graph.packages)
        got = len(list(dest.glob("*.pipper")))
        if len(data["packages"]) != expected or got != expected:
            raise RuntimeError(
                f"pipper download ({label}) resolved {len(data['packages'])} packages and wrote "
                f"{got} bundles; the graph has {expected}"
            )
        shutil.rmtree(dest)
        keep = ("requests", "listings", "retries", "bytes_fetched", "timings", "depth", "rounds")
        return Run(
            measured.seconds,
            measured.cpu_seconds,
            measured.maxrss_kib,
            counts,
            {k: data.get(k) for k in keep},
        )

    def original_download(self, published: Published) -> Run:
        assert self.original_script is not None
        dest = self.fresh("original-dest")
        cmd = [str(self.original_script), "download", *published.graph.names]
        cmd += ["-d", str(dest), "-b", published.bucket]
        measured, counts = self.timed("original-download", cmd, self.original_env)
        log = self.logs / "original-download.log"
        measured.check("the original pipper download", log)
        got = len(list(dest.glob("*.pipper")))
        if got != len(published.graph.packages):
            raise RuntimeError(f"the original pipper wrote {got} bundles; see {log}")
        shutil.rmtree(dest)
        return Run(measured.seconds, measured.cpu_seconds, measured.maxrss_kib, counts)

    def download(self) -> None:
        """Repetitions are interleaved (original, cold, cold at 0 ms, warm, offline; again), so
        a burst of load from elsewhere on the machine hits every kind of run alike."""
        s = self.s
        assert self.main is not None
        runs: dict[str, list[Run]] = {
            "original": [],
            "cold": [],
            "cold_zero_latency": [],
            "warm": [],
            "offline": [],
        }
        for i in range(s.repeat):
            if self.original_script is not None and i < s.original_repeat:
                runs["original"].append(self.original_download(self.main))
            cache = self.fresh("cache")
            runs["cold"].append(self.ours_download("cold", self.main, cache))
            zero = self.fresh("cache")
            runs["cold_zero_latency"].append(
                self.ours_download("cold-0ms", self.main, zero, zero_latency=True)
            )
            shutil.rmtree(zero)
            runs["warm"].append(self.ours_download("warm", self.main, cache))
            runs["offline"].append(self.ours_download("offline", self.main, cache, offline=True))
            shutil.rmtree(cache)
        self.download_series = {k: Series(v) for k, v in runs.items() if v}
        self.results["download"] = {k: v.to_json() for k, v in self.download_series.items()}

    def bound(self) -> None:
        s = self.s
        assert self.main is not None
        startup = self.results["startup"]
        rate = self.results["throughput"]["proxy_bytes_per_s"]
        latency = s.latency_ms / 1000
        levels = self.main.graph.levels
        transfer = self.main.bundle_bytes / rate
        interpreter = startup["python -c pass"]
        series = self.download_series
        warm_series = series.get("warm")
        # A warm run must still learn which versions exist: one LIST per level, or a single
        # LIST when one listing of the whole prefix answers every package.
        warm_trips = levels
        if warm_series is not None:
            warm_trips = min(levels, max(1, warm_series.runs[0].requests["list"]))
        bounds = {
            "cold": levels * ROUND_TRIPS_PER_LEVEL * latency + transfer + interpreter,
            "cold_zero_latency": transfer + interpreter,
            "warm": warm_trips * latency + interpreter,
            "offline": interpreter,
        }
        self.results["bound"] = {
            "levels": levels,
            "round_trips_per_level": ROUND_TRIPS_PER_LEVEL,
            "latency_s": latency,
            "bundle_bytes": self.main.bundle_bytes,
            "throughput_bytes_per_s": rate,
            "network_s": round(levels * ROUND_TRIPS_PER_LEVEL * latency, 4),
            "transfer_s": round(transfer, 4),
            "interpreter_s": interpreter,
            "pipper_startup_s": startup["pipper --version"],
            "cold_s": round(bounds["cold"], 4),
            "cold_zero_latency_s": round(bounds["cold_zero_latency"], 4),
            "warm_s": round(bounds["warm"], 4),
            "offline_s": round(bounds["offline"], 4),
        }
        self.bounds = bounds

        original = series.get("original")
        graph = self.main.graph
        section = Section(
            f"download: {len(graph.packages)} packages, {levels} levels, "
            f"{size(self.main.bundle_bytes)}, {s.latency_ms:g} ms per request",
            [
                "run",
                "median",
                "best",
                "CPU",
                "runs",
                "LIST/GET/HEAD",
                "bound",
                "x bound",
                "vs original",
            ],
        )
        for name, label in (
            ("original", "original 0.11.1 (every id)"),
            ("cold", "pipper cold (empty cache)"),
            ("cold_zero_latency", "pipper cold, proxy at 0 ms"),
            ("warm", "pipper warm (full cache)"),
            ("offline", "pipper --offline"),
        ):
            got = series.get(name)
            if got is None:
                continue
            b = bounds["cold" if name == "original" else name]
            speedup = original.median / got.median if original and name != "original" else None
            section.add(
                label,
                seconds(got.median),
                seconds(got.best),
                seconds(got.cpu_median),
                len(got.runs),
                got.requests_text(),
                seconds(b),
                ratio(got.median / b),
                f"{ratio(speedup)} faster" if speedup else "-",
            )
        section.notes.append(
            f"bound = {levels} levels x {ROUND_TRIPS_PER_LEVEL} round trips x "
            f"{s.latency_ms:g} ms + {size(self.main.bundle_bytes)} at "
            f"{size(rate)}/s (one large GET through the proxy) + python start-up "
            f"{seconds(interpreter)}; 0 ms: no latency term; warm: {warm_trips} LIST round "
            "trip(s); offline: start-up only"
        )
        cold = series.get("cold")
        if cold is not None and cold.runs[0].requests["list"] < levels:
            lists = cold.runs[0].requests["list"]
            tighter = (lists + levels) * latency + transfer + interpreter
            section.notes.append(
                f"this pipper made {lists} LIST(s) for the whole graph, so it needs only "
                f"{lists} + {levels} round trips: bound {seconds(tighter)}, cold at "
                f"{ratio(cold.median / tighter)} of it"
            )
            self.results["bound"]["tighter_cold_s"] = round(tighter, 4)
        if cold is not None:
            timings = cold.runs[0].pipper.get("timings") or {}
            section.notes.append(
                f"pipper's own clock (first cold run): resolve {seconds(timings.get('resolve'))}, "
                f"total {seconds(timings.get('total'))}; `pipper --version` starts in "
                f"{seconds(startup['pipper --version'])}"
            )
        self.sections.append(section)

    def probe(self) -> None:
        """Import times and CPU per request of aiobotocore against a minimal SigV4 client."""
        assert self.main is not None
        cmd = [sys.executable, "-m", "benchmarks.probe", "--bucket", self.main.bucket]
        measured = procs.run(cmd, self.ours_env, cwd=REPO_ROOT, log=self.logs / "probe.log")
        measured.check("the client probe", self.logs / "probe.log")
        data = json.loads(measured.stdout.strip().splitlines()[-1])
        self.results["probe"] = data
        imports, boto, mini = data["imports_s"], data["aiobotocore"], data["mini"]
        requests = boto["requests"]
        section = Section(
            f"client cost: {requests} requests as a cold download makes them "
            "(a LIST per package, a GET per bundle streamed and hashed), 32 at a time, in-process",
            ["client", "import", "set-up", "CPU per LIST", "CPU per GET", f"CPU for {requests}"],
        )
        boto_import = imports["aiobotocore.session"] + imports["aioboto3"]
        for label, row, imported in (
            ("aiobotocore (what pipper uses)", boto, boto_import),
            ("minimal SigV4 over asyncio (floor)", mini, 0.0),
        ):
            half = requests / 2
            cpu = (row["list_cpu_ms_per_request"] + row["get_cpu_ms_per_request"]) * half / 1000
            section.add(
                label,
                seconds(imported),
                seconds(row.get("client_create_cpu_s", 0.0)),
                f"{row['list_cpu_ms_per_request']:.2f} ms",
                f"{row['get_cpu_ms_per_request']:.2f} ms",
                seconds(cpu),
            )
        section.notes.append(
            f"also imported by `pipper download`: typer {seconds(imports['typer'])}, "
            f"typer's pydantic adapters {seconds(imports['typer._adapters'])}"
        )
        self.sections.append(section)

    def ours_install(self, published: Published, installer: str) -> Run:
        target = self.fresh("target")
        cache = self.fresh("install-cache")
        env = {**self.ours_env, "PIPPER_CACHE_DIR": str(cache)}
        args = ["install", published.graph.root, "-b", published.bucket, "--target", str(target)]
        args += ["--installer", installer]
        label = f"install-{installer}"
        measured, counts = self.timed(label, procs.pipper_cmd(*args), env)
        if measured.returncode == 2 and "No such command" in measured.stderr:
            raise Unavailable("this checkout has no `pipper install` command yet")
        measured.check(f"pipper install --installer {installer}", self.logs / f"{label}.log")
        self._check_installed(target, published, label)
        shutil.rmtree(target)
        shutil.rmtree(cache)
        return Run(measured.seconds, measured.cpu_seconds, measured.maxrss_kib, counts)

    def original_install(self, published: Published) -> Run:
        assert self.original_script is not None
        target = self.fresh("original-target")
        cmd = [str(self.original_script), "install", published.graph.root]
        cmd += ["-b", published.bucket, "-t", str(target)]
        measured, counts = self.timed("original-install", cmd, self.original_env)
        measured.check("the original pipper install", self.logs / "original-install.log")
        self._check_installed(target, published, "original-install")
        shutil.rmtree(target)
        return Run(measured.seconds, measured.cpu_seconds, measured.maxrss_kib, counts)

    def _check_installed(self, target: Path, published: Published, label: str) -> None:
        found = {p.name.split("-")[0] for p in target.glob("*.dist-info")}
        missing = set(published.graph.names) - found
        if missing:
            raise RuntimeError(
                f"{label}: {len(missing)} of {len(published.graph.names)} packages missing from "
                f"the target (e.g. {sorted(missing)[0]}); see {self.logs / (label + '.log')}"
            )

    def install(self) -> None:
        s = self.s
        graph = G.generate(s.install_packages, s.install_depth, seed=s.seed, prefix="inst")
        published = self.publish("bench-install", graph)
        runs: dict[str, list[Run]] = {"original": [], "pip": [], "uv": []}
        for i in range(s.repeat):
            if self.original_script is not None and i < s.original_repeat:
                runs["original"].append(self.original_install(published))
            for installer in ("pip", "uv"):
                runs[installer].append(self.ours_install(published, installer))
        series = {k: Series(v) for k, v in runs.items() if v}
        self.install_series = series
        self.results["install"] = {
            "packages": len(graph.packages),
            "levels": graph.levels,
            "bundle_bytes": published.bundle_bytes,
            **{k: v.to_json() for k, v in series.items()},
        }
        section = Section(
            f"install: {len(graph.packages)} packages, {graph.levels} levels, "
            f"{size(published.bundle_bytes)} into a fresh --target (empty cache)",
            ["run", "median", "best", "CPU", "runs", "LIST/GET/HEAD", "vs original"],
        )
        original = series.get("original")
        for name, label in (
            ("original", "original 0.11.1 (pip per package)"),
            ("pip", "pipper --installer pip"),
            ("uv", "pipper --installer uv"),
        ):
            got = series.get(name)
            if got is None:
                continue
            speedup = original.median / got.median if original and name != "original" else None
            section.add(
                label,
                seconds(got.median),
                seconds(got.best),
                seconds(got.cpu_median),
                len(got.runs),
                got.requests_text(),
                f"{ratio(speedup)} faster" if speedup else "-",
            )
        self.sections.append(section)

    def memory(self) -> None:
        s = self.s
        big = G.single("mem_big", s.big_bundle_bytes)
        small = G.single("mem_small", 1024 * 1024)
        self.client.create_bucket(Bucket="bench-memory")
        published = {}
        for g in (small, big):
            bundles = G.build(g, s.work)
            G.publish(self.client, "bench-memory", bundles, workers=1)
            published[g.root] = Published("bench-memory", g, G.current_bundle_bytes(g, bundles))
        found: dict[str, Series] = {}
        for name, pub in published.items():
            runs = []
            for _ in range(min(s.repeat, 2)):
                cache = self.fresh("memory-cache")
                runs.append(self.ours_download(f"memory-{name}", pub, cache))
                shutil.rmtree(cache)
            found[name] = Series(runs)
        peak = {k: max(r.maxrss_kib for r in v.runs) for k, v in found.items()}
        delta = round((peak["mem_big"] - peak["mem_small"]) / 1024, 1) + 0.0
        self.results["memory"] = {
            "big_bytes": published["mem_big"].bundle_bytes,
            "small_bytes": published["mem_small"].bundle_bytes,
            "big_peak_rss_mib": round(peak["mem_big"] / 1024, 1),
            "small_peak_rss_mib": round(peak["mem_small"] / 1024, 1),
            "delta_mib": round(delta, 1),
            "big_median_s": round(found["mem_big"].median, 3),
            "small_median_s": round(found["mem_small"].median, 3),
        }
        section = Section(
            "memory: peak RSS of `pipper download` of one bundle", ["bundle", "peak RSS", "time"]
        )
        for name in ("mem_small", "mem_big"):
            section.add(
                f"{name} ({size(published[name].bundle_bytes)})",
                mib(peak[name]),
                seconds(found[name].median),
            )
        section.notes.append(
            f"difference: {delta:.1f} MiB (target: at most {TARGETS['rss_delta_mib']:g})"
        )
        self.sections.append(section)

    def scaling(self) -> None:
        s = self.s
        assert self.main is not None
        by_count: list[dict[str, Any]] = []
        section = Section(
            f"scaling: cold download, {s.depth} levels, median of {s.scale_repeat}",
            ["run", "packages", "bytes", "median", "CPU", "x bound", "per package"],
        )
        rate = float(self.results["throughput"]["proxy_bytes_per_s"])
        interpreter = float(self.results["startup"]["python -c pass"])
        latency = s.latency_ms / 1000

        def bound_of(pub: Published) -> float:
            return (
                pub.graph.levels * ROUND_TRIPS_PER_LEVEL * latency
                + pub.bundle_bytes / rate
                + interpreter
            )

        for count in s.scale_counts:
            if count == s.packages:
                pub = self.main
            else:
                graph = G.generate(count, s.depth, seed=s.seed)
                pub = self.publish(f"bench-scale-{count}", graph)
            series = Series(
                [
                    self.ours_download(f"scale-{count}", pub, self.fresh("cache"))
                    for _ in range(s.scale_repeat)
                ]
            )
            b = bound_of(pub)
            by_count.append(
                {
                    "packages": count,
                    "bundle_bytes": pub.bundle_bytes,
                    "bound_s": round(b, 4),
                    **series.to_json(),
                }
            )
            section.add(
                "--concurrency 32 (default)",
                count,
                size(pub.bundle_bytes),
                seconds(series.median),
                seconds(series.cpu_median),
                ratio(series.median / b),
                seconds(series.median / count),
            )
        if len(by_count) >= 2:
            counts = [float(row["packages"]) for row in by_count]
            wall = _fit(counts, [row["median_s"] for row in by_count])
            cpu = _fit(counts, [row["cpu_median_s"] for row in by_count])
            self.results["scaling_fit"] = {
                "fixed_s": round(wall[0], 4),
                "per_package_s": round(wall[1], 6),
                "cpu_fixed_s": round(cpu[0], 4),
                "cpu_per_package_s": round(cpu[1], 6),
            }
            section.notes.append(
                f"least-squares fit over the package counts: time = {seconds(wall[0])} + "
                f"{wall[1] * 1000:.1f} ms x packages; CPU = {seconds(cpu[0])} + "
                f"{cpu[1] * 1000:.1f} ms x packages"
            )
        by_concurrency: list[dict[str, Any]] = []
        b = bound_of(self.main)
        for concurrency in s.concurrencies:
            series = Series(
                [
                    self.ours_download(
                        f"concurrency-{concurrency}",
                        self.main,
                        self.fresh("cache"),
                        concurrency=concurrency,
                    )
                    for _ in range(s.scale_repeat)
                ]
            )
            by_concurrency.append(
                {"concurrency": concurrency, "bound_s": round(b, 4), **series.to_json()}
            )
            section.add(
                f"--concurrency {concurrency}",
                len(self.main.graph.packages),
                size(self.main.bundle_bytes),
                seconds(series.median),
                seconds(series.cpu_median),
                ratio(series.median / b),
                seconds(series.median / len(self.main.graph.packages)),
            )
        self.results["scaling"] = {"packages": by_count, "concurrency": by_concurrency}
        self.sections.append(section)

    # -- verdicts ---------------------------------------------------------------------------

    def targets(self) -> None:
        found: list[dict[str, Any]] = []

        def add(name: str, target: str, measured: str, ok: bool | None) -> None:
            found.append({"target": name, "wanted": target, "measured": measured, "met": ok})

        series = self.download_series
        original, cold = series.get("original"), series.get("cold")
        if original and cold:
            speed = original.median / cold.median
            add(
                "cold download vs original",
                f">= {TARGETS['cold_vs_original']:g}x faster",
                ratio(speed),
                speed >= TARGETS["cold_vs_original"],
            )
        else:
            add(
                "cold download vs original",
                f">= {TARGETS['cold_vs_original']:g}x faster",
                "not run",
                None,
            )
        bounds = self.bounds or None
        if cold and bounds:
            over = cold.median / bounds["cold"]
            add(
                "cold download vs bound + start-up",
                f"<= {TARGETS['cold_vs_bound']:g}x",
                ratio(over),
                over <= TARGETS["cold_vs_bound"],
            )
        warm = series.get("warm")
        if warm:
            gets = warm.max_requests("get")
            add("warm download: bundle GETs", "0", str(gets), gets == 0)
        offline = series.get("offline")
        if offline:
            total = offline.max_requests("all")
            add("offline download: requests", "0", str(total), total == 0)
        inst = self.install_series
        if inst.get("original") and inst.get("pip"):
            speed = inst["original"].median / inst["pip"].median
            add(
                "install 30 (pip) vs original",
                f">= {TARGETS['install_vs_original']:g}x faster",
                ratio(speed),
                speed >= TARGETS["install_vs_original"],
            )
        else:
            why = (
                self.results.get("install", {}).get("skipped")
                or self.results.get("install", {}).get("error")
                or "not run"
            )
            add(
                "install 30 (pip) vs original",
                f">= {TARGETS['install_vs_original']:g}x faster",
                why,
                None,
            )
        memory = self.results.get("memory", {})
        if "delta_mib" in memory:
            add(
                "peak RSS 1 GiB - 1 MiB",
                f"<= {TARGETS['rss_delta_mib']:g} MiB",
                f"{memory['delta_mib']:.1f} MiB",
                memory["delta_mib"] <= TARGETS["rss_delta_mib"],
            )
        else:
            add("peak RSS 1 GiB - 1 MiB", f"<= {TARGETS['rss_delta_mib']:g} MiB", "not run", None)
        help_s = self.results.get("startup", {}).get("pipper --help")
        if help_s is not None:
            add(
                "pipper --help start-up",
                f"< {TARGETS['help_seconds']:g} s",
                seconds(help_s),
                help_s < TARGETS["help_seconds"],
            )
        self.results["targets"] = found
        section = Section("targets of issue #5", ["target", "wanted", "measured", "met"])
        for t in found:
            section.add(
                t["target"],
                t["wanted"],
                t["measured"],
                {True: "yes", False: "NO", None: "-"}[t["met"]],
            )
        self.sections.append(section)

    # -- output -----------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        return {
            "command": command_line(self.argv),
            "mode": self.s.mode,
            "machine": machine(),
            "settings": {k: _plain(v) for k, v in asdict(self.s).items()},
            "results": self.results,
            "errors": self.errors,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        }

    def load_note(self) -> str:
        """Other work on the machine skews wall times; the CPU columns are steadier."""
        before = self.results.get("load_average_before", [])
        after = self.results.get("load_average_after", [])
        return (
            f"Load average (1/5/15 min) before: {'/'.join(map(str, before)) or '-'}, after: "
            f"{'/'.join(map(str, after)) or '-'}; CPU = user + system time of the command"
        )

    def write(self) -> str:
        doc = self.document()
        header = (
            f"Command: {doc['command']}\nMachine: {describe_machine(doc['machine'])}\n"
            f"S3 server: {self.results.get('server', {}).get('kind', '-')} on 127.0.0.1 behind a "
            f"proxy adding {self.s.latency_ms:g} ms per request; finished {doc['finished']} "
            f"in {self.results.get('elapsed_s', 0):.0f} s\n{self.load_note()}"
        )
        order = ("download", "client", "install", "memory", "scaling", "Start-up", "targets")
        self.sections.sort(
            key=lambda sec: next((i for i, w in enumerate(order) if sec.title.startswith(w)), 99)
        )
        text = "\n\n".join([header, *(text_table(sec) for sec in self.sections)])
        if self.errors:
            text += "\n\nErrors:\n" + "\n".join(f"  {e}" for e in self.errors)
        self.s.json_out.parent.mkdir(parents=True, exist_ok=True)
        self.s.json_out.write_text(json.dumps(doc, indent=2) + "\n")
        markdown = "\n\n".join(
            [
                f"Command: `{doc['command']}`  \nMachine: {describe_machine(doc['machine'])}  \n"
                f"S3 server: {self.results.get('server', {}).get('kind', '-')} on 127.0.0.1 "
                f"behind a proxy adding {self.s.latency_ms:g} ms per request  \n"
                f"{self.load_note()}",
                *(markdown_table(sec) for sec in self.sections),
            ]
        )
        self.s.md_out.parent.mkdir(parents=True, exist_ok=True)
        self.s.md_out.write_text(markdown + "\n")
        return text


def _fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Intercept and slope of the least-squares line through the points."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return my - slope * mx, slope


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    settings = parse_args(args)
    bench = Bench(settings, args)
    bench.run()
    text = bench.write()
    print()
    print(text)
    print(f"\nJSON: {settings.json_out}\nmarkdown: {settings.md_out}")
    return 1 if bench.errors else 0
