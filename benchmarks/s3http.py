"""Path-style S3 requests over one aiohttp session, signed by ``benchmarks.sigv4``.

boto3 spends about 3.5 ms of CPU per request on this machine, so filling a bucket with 100,000
keys through it would take longer than the whole benchmark; this client spends a fraction of
that. It serves the runner's own set-up (bulk uploads) and the static-website front, never a
measured tool.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from benchmarks.sigv4 import Signer
from tests.lib.s3servers import S3Server


class LightS3:
    def __init__(self, server: S3Server, *, connections: int = 32) -> None:
        parts = urlsplit(server.endpoint_url)
        self.base = server.endpoint_url.rstrip("/")
        self.host = parts.netloc
        self.signer = Signer(server.access_key, server.secret_key, server.region)
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LightS3:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.connections),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def request(self, method: str, bucket: str, key: str, body: bytes = b"", **headers: str) -> Any:
        """``async with`` it: the response, its body not read yet (stream it or read it)."""
        assert self._session is not None, "use LightS3 as an async context manager"
        path = quote(f"/{bucket}/{key}", safe="/-_.~")
        digest = hashlib.sha256(body).hexdigest()
        signed = self.signer.headers(method, self.host, path, payload_sha256=digest)
        return self._session.request(
            method,
            URL(self.base + path, encoded=True),
            data=body if method == "PUT" else None,
            headers={**signed, **headers},
        )

    async def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        async with self.request("PUT", bucket, key, body, **{"Content-Type": content_type}) as r:
            if r.status != 200:
                raise RuntimeError(f"PUT {bucket}/{key}: HTTP {r.status} {await r.text()}")


def put_many(
    server: S3Server,
    bucket: str,
    objects: Iterable[tuple[str, bytes, str]],
    *,
    connections: int = 32,
) -> int:
    """Upload every ``(key, body, content type)``, ``connections`` at a time; the count."""

    async def upload() -> int:
        pending = iter(objects)  # shared by the workers: each takes the next object
        done = 0
        async with LightS3(server, connections=connections) as s3:

            async def worker() -> None:
                nonlocal done
                for key, body, content_type in pending:
                    await s3.put(bucket, key, body, content_type)
                    done += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
        return done

    return asyncio.run(upload())
