"""A static-website front for a bucket, as S3's website endpoints or a CDN put before one.

A static PEP 503 index needs ``<index>/<project>/`` to answer with that project's page, but
SeaweedFS treats a key ending in ``/`` as a folder and drops its body. A website endpoint solves
the same problem on AWS: a request for a folder gets the folder's ``index.html``. This front
does exactly that and relays every other path to the object of the same key, streamed, with
the stored content type. It signs its requests with the light signer and adds no latency of
its own beyond a loopback hop; the latency proxy sits in front of it, as before the store.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web

from benchmarks.s3http import LightS3
from tests.lib.s3servers import S3Server

CHUNK = 256 * 1024
RELAYED = ("Content-Type", "Content-Length", "ETag", "Last-Modified")


class Website:
    def __init__(self, server: S3Server, bucket: str, prefix: str = "") -> None:
        self.server = server
        self.bucket = bucket
        self.prefix = prefix
        self.url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def start(self) -> Website:
        ready = threading.Event()
        failed: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self._serve(ready))
            except BaseException as exc:  # reported to start(), not lost in the thread
                failed.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, name="bench-website", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failed or not self.url:
            raise RuntimeError(f"the static-website front did not start: {failed or 'timeout'}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None

    def key(self, path: str) -> str:
        """The object behind a URL path: a folder's ``index.html``, else the same key."""
        key = self.prefix + path.lstrip("/")
        return key + "index.html" if key == self.prefix or key.endswith("/") else key

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with LightS3(self.server, connections=64) as s3:

            async def handle(request: web.Request) -> web.StreamResponse:
                key = self.key(request.path)
                async with s3.request(request.method, self.bucket, key) as upstream:
                    if upstream.status != 200:
                        return web.Response(status=404 if upstream.status in (403, 404) else 502)
                    headers = {h: upstream.headers[h] for h in RELAYED if h in upstream.headers}
                    response = web.StreamResponse(status=200, headers=headers)
                    await response.prepare(request)
                    if request.method == "GET":
                        async for chunk in upstream.content.iter_chunked(CHUNK):
                            await response.write(chunk)
                    await response.write_eof()
                    return response

            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", handle)
            app.router.add_route("HEAD", "/{tail:.*}", handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            await web.SockSite(runner, sock).start()
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            ready.set()
            try:
                await self._stopping.wait()
            finally:
                await runner.cleanup()
