"""Where a cold download's time goes on the client: imports, and CPU per S3 request.

Run as ``python -m benchmarks.probe --bucket B`` in a fresh interpreter (the runner does so),
with ``AWS_ENDPOINT_URL`` and keys in the environment. It prints one JSON object:

- the import time of each layer pipper's download loads (typer, then aiobotocore's session
  and config: pipper makes its client without aioboto3), measured in that order in one
  process;
- the CPU time per request of the same work pipper does (a LIST of every package folder, then a
  GET of each newest bundle, streamed and hashed), 32 at a time, done three times: with
  aiobotocore's client, with pipper's own store (``S3Storage``: that session, signer and HTTP
  session on its lean request path, as a run opens it), and with a minimal SigV4 client over
  asyncio streams. The last is a floor, not a product: it shows how much of a request's cost
  is the client library rather than the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from benchmarks.sigv4 import Signer
from pipper import collector

_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_CHUNK = 1024 * 1024


def import_times() -> dict[str, float]:
    found: dict[str, float] = {}
    for module in ("typer", "aiobotocore.session", "aiobotocore.config"):
        started = time.perf_counter()
        importlib.import_module(module)
        found[module] = round(time.perf_counter() - started, 4)
    return found


class MiniS3:
    """GET requests signed with SigV4 over keep-alive asyncio connections; nothing else.

    A pooled connection the server has closed meanwhile is replaced once; no other retries.
    """

    def __init__(self, endpoint: str, key: str, secret: str, region: str) -> None:
        parts = urlsplit(endpoint)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.signer = Signer(key, secret, region)
        self._pool: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(
        self, path: str, params: dict[str, str] | None = None, sink: Any = None
    ) -> tuple[int, bytes]:
        path = quote(path, safe="/-_.~")
        query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, v in sorted((params or {}).items())
        )
        target = path + (f"?{query}" if query else "")
        while True:
            reused = bool(self._pool)
            if reused:
                conn = self._pool.pop()
            else:
                conn = await asyncio.open_connection(self.host, self.port)
            headers = self.signer.headers("GET", f"{self.host}:{self.port}", path, query)
            lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            conn[1].write(f"GET {target} HTTP/1.1\r\n{lines}\r\n".encode())
            try:
                raw = await conn[0].readuntil(b"\r\n\r\n")
                break
            except (asyncio.IncompleteReadError, ConnectionError):
                conn[1].close()
                if not reused:
                    raise
        reader, writer = conn
        head = raw.decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        body = bytearray()
        digest = hashlib.sha256()
        while length:
            chunk = await reader.read(min(length, _CHUNK))
            if not chunk:
                raise ConnectionError("the body ended early")
            length -= len(chunk)
            if sink is None:
                body += chunk
            else:
                digest.update(chunk)
                sink.write(chunk)
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._pool.append(conn)
        return status, bytes(body)

    def close(self) -> None:
        for _, writer in self._pool:
            writer.close()


async def _timed(
    label: str, count: int, work: Callable[[], Awaitable[Any]]
) -> tuple[Any, dict[str, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = await work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result, {
        f"{label}_wall_s": round(wall, 4),
        f"{label}_cpu_ms_per_request": round(1000 * cpu / max(count, 1), 3),
    }


async def with_mini(bucket: str, prefix: str, concurrency: int) -> dict[str, float]:
    env = os.environ
    client = MiniS3(
        env["AWS_ENDPOINT_URL"],
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
        env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    gate = asyncio.Semaphore(concurrency)
    listing = {"list-type": "2", "prefix": prefix, "delimiter": "/"}
    _, body = await client.get(f"/{bucket}", listing)
    folders = [e.text or "" for e in ET.fromstring(body).iter(f"{_S3_NS}Prefix")]
    folders = [f for f in folders if f != prefix]

    async def newest(folder: str) -> str:
        async with gate:
            status, body = await client.get(
                f"/{bucket}", {"list-type": "2", "prefix": folder, "delimiter": "/"}
            )
            if status != 200:
                raise RuntimeError(f"LIST {folder}: HTTP {status}")
            return max(e.text or "" for e in ET.fromstring(body).iter(f"{_S3_NS}Key"))

    async def fetch(key: str) -> None:
        async with gate:
            with open(os.devnull, "wb") as sink:
                status, _ = await client.get(f"/{bucket}/{key}", sink=sink)
            if status != 200:
                raise RuntimeError(f"GET {key}: HTTP {status}")

    keys, out = await _timed(
        "list", len(folders), lambda: asyncio.gather(*(newest(f) for f in folders))
    )
    _, more = await _timed("get", len(keys), lambda: asyncio.gather(*(fetch(k) for k in keys)))
    client.close()
    return {**out, **more, "requests": len(folders) + len(keys)}


async def with_aiobotocore(bucket: str, prefix: str, concurrency: int) -> dict[str, float]:
    import aiobotocore.session
    from aiobotocore.config import AioConfig

    started, cpu = time.perf_counter(), time.process_time()
    session = aiobotocore.session.get_session()
    config = AioConfig(max_pool_connections=concurrency + 4, signature_version="s3v4")
    async with session.create_client("s3", config=config) as client:
        created = {
            "client_create_s": round(time.perf_counter() - started, 4),
            "client_create_cpu_s": round(time.process_time() - cpu, 4),
        }
        gate = asyncio.Semaphore(concurrency)
        top = await client.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        folders = [p["Prefix"] for p in top.get("CommonPrefixes", [])]

        async def newest(folder: str) -> str:
            async with gate:
                page = await client.list_objects_v2(Bucket=bucket, Prefix=folder, Delimiter="/")
                return str(max(o["Key"] for o in page["Contents"]))

        async def fetch(key: str) -> None:
            async with gate:
                response = await client.get_object(Bucket=bucket, Key=key)
                body = response["Body"]
                digest = hashlib.sha256()
                with open(os.devnull, "wb") as sink:
                    while chunk := await body.read(_CHUNK):
                        digest.update(chunk)
                        sink.write(chunk)
                body.close()

        keys, out = await _timed(
            "list", len(folders), lambda: asyncio.gather(*(newest(f) for f in folders))
        )
        _, more = await _timed("get", len(keys), lambda: asyncio.gather(*(fetch(k) for k in keys)))
    return {**created, **out, **more, "requests": len(folders) + len(keys)}


async def with_pipper(bucket: str, prefix: str, concurrency: int) -> dict[str, float]:
    """pipper's store, opened as a run opens it once botocore's data files are kept (the
    folder is filled by a first opening, untimed)."""
    import tempfile
    from pathlib import Path

    from pipper.storage.s3 import S3Storage

    def store(kept: Path) -> S3Storage:
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        return S3Storage(
            bucket=bucket, endpoint_url=endpoint, concurrency=concurrency, data_cache=kept
        )

    with tempfile.TemporaryDirectory(prefix="pipper-probe-") as tmp:
        async with store(Path(tmp)):
            pass
        started, cpu = time.perf_counter(), time.process_time()
        async with store(Path(tmp)) as storage:
            created = {
                "client_create_s": round(time.perf_counter() - started, 4),
                "client_create_cpu_s": round(time.process_time() - cpu, 4),
            }
            top = await storage.list(prefix, delimiter="/")

            async def newest(folder: str) -> str:
                listing = await storage.list(folder, delimiter="/")
                return max(o.key for o in listing.objects)

            async def fetch(key: str) -> None:
                async with storage.get(key) as stream:
                    digest = hashlib.sha256()
                    with open(os.devnull, "wb") as sink:
                        async for chunk in stream.chunks():
                            digest.update(chunk)
                            sink.write(chunk)

            folders = list(top.prefixes)
            keys, out = await _timed(
                "list", len(folders), lambda: asyncio.gather(*(newest(f) for f in folders))
            )
            _, more = await _timed(
                "get", len(keys), lambda: asyncio.gather(*(fetch(k) for k in keys))
            )
    return {**created, **out, **more, "requests": len(folders) + len(keys)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.probe")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="pipper/")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    # The collector set as the ``pipper`` script sets it, for every client alike: a full
    # collection over botocore's objects (about 70 ms) would land in whichever row it hit.
    collector.take_over()
    result: dict[str, Any] = {"imports_s": import_times()}
    result["mini"] = asyncio.run(with_mini(args.bucket, args.prefix, args.concurrency))
    result["aiobotocore"] = asyncio.run(
        with_aiobotocore(args.bucket, args.prefix, args.concurrency)
    )
    result["pipper"] = asyncio.run(with_pipper(args.bucket, args.prefix, args.concurrency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
