"""Bucket size: a cold download of the main graph from a bucket that also holds many other
packages with many versions each, against the same graph alone in a bucket of its own.

Filling a bucket with 100,000 keys costs this machine minutes (the server's time per PUT, not
the client's), so the crowded buckets live in a server of their own whose data folder is kept
under the work folder, one bucket per crowd size, marked complete once filled; later runs only
re-publish the graph. Both buckets are in that server, behind the same latency, and the runs
alternate (alone, crowded; again).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from typing import Any

from benchmarks import graph as G
from benchmarks.bench import Bench
from benchmarks.commands import ours_download
from benchmarks.report import Section, ratio, size
from benchmarks.s3http import put_many
from benchmarks.samples import TIMING_HEADERS, Published, Run, series_of, timing_cells
from tests.lib.proxy import Proxy
from tests.lib.s3servers import start_server

ALONE = "bench-alone"
MARKER = "crowd-complete.json"
"""At the bucket's root, outside pipper's prefix, so no listing of packages sees it."""


def run(bench: Bench) -> None:
    s, main = bench.s, bench.main
    assert main is not None and bench.server is not None
    crowded_bucket = f"bench-crowded-{s.crowd_packages}x{s.crowd_versions}"
    with contextlib.ExitStack() as stack:
        server = start_server(bench.server.kind, data_dir=s.work / "crowded-store")
        stack.callback(server.stop)
        proxy = Proxy(server.endpoint_url, latency_ms=s.latency_ms).start()
        stack.callback(proxy.stop)
        client = server.client()
        keys = _fill(server, client, crowded_bucket, s.crowd_packages, s.crowd_versions)
        buckets = {"alone": ALONE, "crowded": crowded_bucket}
        for bucket in buckets.values():
            _republish(client, bucket, main)
        runs: dict[str, list[Run]] = {name: [] for name in buckets}
        for _ in range(s.scale_repeat):
            for name, bucket in buckets.items():
                cache = bench.fresh("cache")
                pub = Published(bucket, main.graph, main.bundle_bytes, main.bundles)
                runs[name].append(
                    ours_download(bench, f"crowd-{name}", pub, cache, proxy=proxy, server=server)
                )
                shutil.rmtree(cache)
    series = series_of(runs)
    bench.results["crowded"] = {
        "other_packages": s.crowd_packages,
        "versions_each": s.crowd_versions,
        "other_keys": keys,
        **{k: v.to_json() for k, v in series.items()},
    }
    section = Section(
        f"bucket size: cold download of {len(main.graph.packages)} packages "
        f"({size(main.bundle_bytes)}), alone and among {s.crowd_packages} other packages x "
        f"{s.crowd_versions} versions ({keys} more keys)",
        ["bucket", *TIMING_HEADERS, "x alone"],
    )
    alone = series.get("alone")
    for name, got in series.items():
        share = ratio(got.median / alone.median) if alone else "-"
        section.add(f"{name} ({buckets[name]})", *timing_cells(got), share)
    bench.sections.append(section)


def _fill(server: Any, client: Any, bucket: str, packages: int, versions: int) -> int:
    """The crowd of other packages, uploaded once per store; the number of keys."""
    wanted = {"packages": packages, "versions": versions}
    with contextlib.suppress(client.exceptions.ClientError):
        client.create_bucket(Bucket=bucket)
    try:
        found = json.loads(client.get_object(Bucket=bucket, Key=MARKER)["Body"].read())
    except client.exceptions.ClientError:
        found = None
    if found != wanted:
        print(f"   filling {bucket} with {packages * versions} keys (kept for later runs)")
        put_many(server, bucket, G.crowd(packages, versions))
        client.put_object(Bucket=bucket, Key=MARKER, Body=json.dumps(wanted).encode())
    return packages * versions


def _republish(client: Any, bucket: str, main: Published) -> None:
    """The graph as this run built it: an earlier run's versions of it are removed first."""
    with contextlib.suppress(client.exceptions.ClientError):
        client.create_bucket(Bucket=bucket)
    prefix = f"{G.ROOT_PREFIX}/{main.graph.root.rstrip('0123456789')}"  # every bench_NNNN
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        stale = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if stale:
            client.delete_objects(Bucket=bucket, Delete={"Objects": stale, "Quiet": True})
    G.publish(client, bucket, main.bundles)
