"""The wire's throughput: one large GET, timed on the client, through the latency proxy.

It is the bytes-per-second term of the physical bound (``benchmarks.bound``). The same GET
straight to the server is kept for reference: the gap is what the proxy itself costs.
"""

from __future__ import annotations

import random
import time
from typing import Any

from benchmarks.bench import Bench


def run(bench: Bench) -> None:
    assert bench.server is not None and bench.proxy is not None
    size = bench.s.throughput_bytes
    bucket = "bench-throughput"
    bench.client.create_bucket(Bucket=bucket)
    blob = random.Random(1).randbytes(size)
    bench.client.put_object(Bucket=bucket, Key="blob", Body=blob)
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
        return size / max(min(times), 1e-6)

    proxied = best(bench.server.client(endpoint_url=bench.proxy.url), bench.s.latency_ms / 1000)
    direct = best(bench.server.client(), 0.0)
    bench.results["throughput"] = {
        "object_bytes": size,
        "proxy_bytes_per_s": round(proxied),
        "direct_bytes_per_s": round(direct),
    }
