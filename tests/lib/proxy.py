"""A loopback HTTP/1.1 proxy in front of an S3 server: latency, fault injection, request counts.

The kernel here has no netem and no registry ships toxiproxy, so tests and benchmarks put this
proxy between pipper and the server. It runs its own asyncio loop in a daemon thread, so sync
tests and subprocesses (via AWS_ENDPOINT_URL) can use it as well as async code.

It relays each request byte for byte (SigV4 signs the Host header and presigned URLs sign the
query), one upstream connection per client connection, and streams bodies in bounded chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlsplit

CHUNK = 256 * 1024
HEAD_LIMIT = 1024 * 1024
MIN_FAULT_BODY = 16
"""Body faults need a body to cut; shorter responses are relayed intact and not counted."""

KINDS = ("list", "get", "head", "put", "delete", "other", "all")
Kind = Literal["list", "get", "head", "put", "delete", "other", "all"]
FaultName = Literal[
    "slowdown", "reset", "truncate", "stall", "drip", "silent", "redirect", "html", "error"
]
ANSWERED = ("slowdown", "silent", "redirect", "html", "error")
"""Faults the proxy answers itself, without forwarding the request upstream."""

_LIST_PARAMS = {
    "list-type",
    "prefix",
    "delimiter",
    "continuation-token",
    "marker",
    "start-after",
    "max-keys",
    "encoding-type",
    "fetch-owner",
}


@dataclass(frozen=True)
class Record:
    """One request the proxy answered (or cut off); `status` is what the client was sent."""

    method: str
    path: str
    query: str
    status: int
    fault: FaultName | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """The request's headers, names lower-cased: what the client sent to this host."""

    @property
    def kind(self) -> str:
        return classify(self.method, self.path, self.query)


@dataclass
class Faults:
    """Probabilities (per request, drawn from a seeded RNG) of each injected fault.

    `only` restricts faults to some request kinds; `max_faults` stops injecting after that many.

    Body faults (on a response from upstream): ``reset``, ``truncate``, ``stall`` (a pause of
    ``stall_seconds`` half way) and ``drip`` (one byte every ``drip_seconds``, so no single read
    ever waits long). Answered faults (never forwarded): ``slowdown`` (503 SlowDown), ``silent``
    (the request is read up to its head and never answered, not even with ``100 Continue``),
    ``redirect`` (``redirect_status``, to ``redirect_to`` + the request's path and query when
    set, with ``x-amz-bucket-region: redirect_region`` when set), ``html`` (``200 text/html``
    to every request, as a captive portal answers) and ``error`` (``error_status`` with the S3
    error ``error_code``; an empty body for a 2xx status).
    """

    slowdown_rate: float = 0.0
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 30.0
    drip_rate: float = 0.0
    drip_seconds: float = 1.0
    silent_rate: float = 0.0
    redirect_rate: float = 0.0
    redirect_to: str = ""
    redirect_status: int = 307
    redirect_region: str | None = None
    html_rate: float = 0.0
    error_rate: float = 0.0
    error_status: int = 403
    error_code: str = "RequestTimeTooSkewed"
    only: set[str] | None = None
    max_faults: int | None = None
    seed: int = 0

    def rates(self) -> tuple[tuple[FaultName, float], ...]:
        return (
            ("slowdown", self.slowdown_rate),
            ("reset", self.reset_rate),
            ("truncate", self.truncate_rate),
            ("stall", self.stall_rate),
            ("drip", self.drip_rate),
            ("silent", self.silent_rate),
            ("redirect", self.redirect_rate),
            ("html", self.html_rate),
            ("error", self.error_rate),
        )

    def __post_init__(self) -> None:
        rates = [rate for _, rate in self.rates()]
        if any(r < 0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        if self.only is not None and not set(self.only) <= set(KINDS):
            raise ValueError(f"unknown request kinds in only={self.only!r}")


def classify(method: str, path: str, query: str) -> str:
    """The request kind of a path-style S3 request: list, get, head, put, delete or other."""
    parts = path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    has_bucket = parts[0] != ""
    method = method.upper()
    if not has_bucket:
        return "other"
    if not has_key:
        if method == "GET":
            params = set(parse_qs(query, keep_blank_values=True))
            if not params or params & _LIST_PARAMS:
                return "list"
        return "other"
    return {"GET": "get", "HEAD": "head", "PUT": "put", "DELETE": "delete"}.get(method, "other")


class MakeProxy(Protocol):
    """What the ``make_proxy`` fixture hands a test: a started proxy, stopped at teardown."""

    def __call__(
        self, upstream: str | None = None, latency_ms: float = 0.0, faults: Faults | None = None
    ) -> Proxy: ...


class _Closed(Exception):
    """The peer went away; the connection is finished."""


class Proxy:
    """Relay HTTP/1.1 between clients and `upstream`, optionally delayed and faulty."""

    def __init__(
        self,
        upstream: str,
        *,
        latency_ms: float = 0.0,
        faults: Faults | None = None,
        port: int = 0,
        private: bool = False,
    ) -> None:
        """``private``: answer a request that is not signed (no ``Authorization`` header, no
        presigned query) with 403 AccessDenied, as AWS S3 answers one for a private bucket; moto
        itself accepts any request."""
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream = upstream
        self._upstream_addr = (parts.hostname, parts.port or 80)
        self.latency_ms = latency_ms
        self.faults = faults
        self.private = private
        self.faults_injected = 0
        self.requests: list[Record] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        """The most requests being answered at one moment: proof of concurrency, no clock."""
        self._port = port
        self._rng = random.Random(faults.seed if faults else 0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._holds: dict[str, asyncio.Event] = {}
        self.waiting: list[Record] = []
        """Requests stopped by ``hold`` that have not been let through yet."""
        self.url = ""

    def start(self) -> Proxy:
        if self._thread is not None:
            return self
        started = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._handle, "127.0.0.1", self._port, limit=HEAD_LIMIT, backlog=512
                    )
                )
            except BaseException as exc:
                error.append(exc)
                started.set()
                loop.close()
                return
            sock = self._server.sockets[0]
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="s3-test-proxy", daemon=True)
        self._thread.start()
        started.wait()
        if error:
            self._thread = None
            raise error[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, kind: str = "all") -> int:
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r}; expected one of {KINDS}")
        records = list(self.requests)
        if kind == "all":
            return len(records)
        return sum(1 for r in records if r.kind == kind)

    def reset(self) -> None:
        """Forget recorded requests, the fault count and the peak (the RNG keeps its state)."""
        self.requests = []
        self.faults_injected = 0
        self.peak_in_flight = self.in_flight

    def hold(self, kind: str) -> None:
        """Stop every request of ``kind`` before it is forwarded, until ``release(kind)``.

        A test sees a held request in ``waiting``, so it can act at exactly that moment (swap a
        file, send a signal) instead of guessing with a sleep.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r}; expected one of {KINDS}")
        self._on_loop(lambda: self._holds.setdefault(kind, asyncio.Event()))

    def release(self, kind: str) -> None:
        def let_through() -> None:
            event = self._holds.pop(kind, None)
            if event is not None:
                event.set()

        self._on_loop(let_through)

    def let_held_through(self, kind: str) -> None:
        """Let the requests of ``kind`` held now go on, and hold every later one: a test steps
        racing clients through one request at a time (all of them past a point at once)."""

        def step() -> None:
            event = self._holds.get(kind)
            self._holds[kind] = asyncio.Event()
            if event is not None:
                event.set()

        self._on_loop(step)

    def _on_loop(self, action: Callable[[], object]) -> None:
        loop = self._loop
        assert loop is not None, "start the proxy first"

        async def run() -> None:
            action()

        asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    async def _wait_if_held(self, kind: str, record: Record) -> None:
        event = self._holds.get(kind) or self._holds.get("all")
        if event is None:
            return
        self.waiting.append(record)
        try:
            await event.wait()
        finally:
            self.waiting.remove(record)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _Connection(self, reader, writer)
        try:
            await conn.serve()
        except (_Closed, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            conn.close()
            self._tasks.discard(task)

    def _pick_fault(self, kind: str) -> FaultName | None:
        faults = self.faults
        if faults is None:
            return None
        if faults.max_faults is not None and self.faults_injected >= faults.max_faults:
            return None
        if faults.only is not None and kind not in faults.only and "all" not in faults.only:
            return None
        draw = self._rng.random()
        edge = 0.0
        for name, rate in faults.rates():
            edge += rate
            if draw < edge:
                return name
        return None


@dataclass
class _Message:
    head: bytes
    first_line: str
    headers: dict[str, str]
    """Lower-cased names; repeated headers joined by commas."""

    @property
    def version(self) -> str:
        """HTTP/1.x from a status line (first word) or a request line (last word)."""
        if self.first_line.startswith("HTTP/"):
            return self.first_line.split(" ", 1)[0]
        return self.first_line.rsplit(" ", 1)[-1]

    def wants_close(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if "close" in tokens:
            return True
        return self.version == "HTTP/1.0" and "keep-alive" not in tokens

    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        if value is None:
            return None
        return int(value.split(",")[0].strip())

    def is_chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()


def _parse_head(head: bytes) -> _Message:
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return _Message(head=head, first_line=lines[0], headers=headers)


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """One message head through the blank line; None on a clean EOF between messages."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise
    while head.startswith(b"\r\n"):
        head = head[2:]
    return head


class _Connection:
    """One client connection and its upstream connection, serving requests in order."""

    def __init__(
        self, proxy: Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.reader = reader
        self.writer = writer
        self.up_reader: asyncio.StreamReader | None = None
        self.up_writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        self._close_upstream()
        with contextlib.suppress(Exception):
            self.writer.close()

    def _close_upstream(self) -> None:
        if self.up_writer is not None:
            with contextlib.suppress(Exception):
                self.up_writer.close()
        self.up_reader = self.up_writer = None

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.up_reader is not None and self.up_reader.at_eof():
            self._close_upstream()
        if self.up_reader is None or self.up_writer is None:
            host, port = self.proxy._upstream_addr
            self.up_reader, self.up_writer = await asyncio.open_connection(
                host, port, limit=HEAD_LIMIT
            )
        return self.up_reader, self.up_writer

    async def serve(self) -> None:
        while True:
            head = await _read_head(self.reader)
            if head is None:
                return
            proxy = self.proxy
            proxy.in_flight += 1
            proxy.peak_in_flight = max(proxy.peak_in_flight, proxy.in_flight)
            try:
                keep = await self._exchange(_parse_head(head))
            finally:
                proxy.in_flight -= 1
            if not keep:
                return

    async def _exchange(self, request: _Message) -> bool:
        """Relay one request and its response; False when the client connection must end."""
        proxy = self.proxy
        method, target = request.first_line.split(" ")[:2]
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        if proxy.latency_ms > 0:
            await asyncio.sleep(proxy.latency_ms / 1000.0)
        kind = classify(method, path, query)
        await proxy._wait_if_held(kind, Record(method, path, query, 0, None, request.headers))
        fault = proxy._pick_fault(kind)

        def record(status: int, applied: FaultName | None = None) -> None:
            if applied is not None:
                proxy.faults_injected += 1
            proxy.requests.append(Record(method, path, query, status, applied, request.headers))

        signed = "authorization" in request.headers or "X-Amz-Signature=" in query
        if proxy.private and not signed:
            record(403)
            denied = _s3_error("AccessDenied", "Access Denied", path)
            return await self._answer(request, method, 403, "Forbidden", [], denied)
        if fault == "silent":
            record(0, "silent")
            while await self.reader.read(CHUNK):  # until the client gives up
                pass
            return False
        if fault in ANSWERED:
            status, reason, headers, body = self._canned(fault, method, target, path)
            record(status, fault)
            return await self._answer(request, method, status, reason, headers, body)

        up_reader, up_writer = await self._upstream()
        up_writer.write(request.head)
        pump: asyncio.Future[None] | None = None
        if request.is_chunked() or (request.content_length() or 0) > 0:
            pump = asyncio.ensure_future(_relay_body(request, self.reader, up_writer))
        try:
            response = await self._response_head(up_reader, up_writer, pump)
            status = int(response.first_line.split(" ")[1])
            length = response.content_length()
            bodyless = method == "HEAD" or status in (101, 204, 304)
            body_fault = fault if (not bodyless and (length or 0) >= MIN_FAULT_BODY) else None
            record(status, body_fault)
            self.writer.write(response.head)
            if bodyless:
                await self.writer.drain()
            elif body_fault is not None:
                assert length is not None
                if not await self._faulty_body(body_fault, up_reader, length):
                    return False
            elif length is not None:
                await _copy_exact(up_reader, self.writer, length)
            elif response.is_chunked():
                await _copy_chunked(up_reader, self.writer)
            else:
                await _copy_to_eof(up_reader, self.writer)
                return False
            if pump is not None:
                if not pump.done():
                    # The server answered before reading the whole request (an early error):
                    # the rest of the body is still in flight, so neither side can be reused.
                    return False
                pump.result()
        finally:
            if pump is not None and not pump.done():
                pump.cancel()
                self._close_upstream()
        return not (request.wants_close() or response.wants_close())

    async def _response_head(
        self,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        pump: asyncio.Future[None] | None,
    ) -> _Message:
        """The final response head; interim 1xx replies (100 Continue) go on to the client."""
        if pump is None:
            await up_writer.drain()
        while True:
            if pump is None or pump.done():
                if pump is not None:
                    pump.result()
                head = await _read_upstream_head(up_reader)
            else:
                reading = asyncio.ensure_future(_read_upstream_head(up_reader))
                either: set[asyncio.Future[Any]] = {reading, pump}
                try:
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                    if not reading.done():
                        pump.result()
                    head = await reading
                finally:
                    reading.cancel()
            message = _parse_head(head)
            status = int(message.first_line.split(" ")[1])
            if status >= 200 or status == 101:
                return message
            self.writer.write(message.head)
            await self.writer.drain()

    def _canned(
        self, fault: FaultName, method: str, target: str, path: str
    ) -> tuple[int, str, list[str], bytes]:
        """The status, reason, extra headers and body of an answered fault."""
        faults = self.proxy.faults
        assert faults is not None
        if fault == "html":
            page = b"<html><body><h1>Welcome</h1><p>Please log in to continue.</p></body></html>"
            # A static page, as a web server sends it: with an ETag, so only a HEAD tells.
            return 200, "OK", ["Content-Type: text/html; charset=utf-8", 'ETag: "5f3a-1b2"'], page
        if fault == "redirect":
            status = faults.redirect_status
            headers = (
                [f"Location: {faults.redirect_to.rstrip('/')}{target}"]
                if faults.redirect_to
                else []
            )
            if faults.redirect_region:
                headers.append(f"x-amz-bucket-region: {faults.redirect_region}")
            code = "PermanentRedirect" if status == 301 else "TemporaryRedirect"
            body = _s3_error(code, "Please re-send this request.", path)
            return status, "Redirect", headers, body
        if fault == "error":
            code, status = faults.error_code, faults.error_status
            if 200 <= status < 300:  # a success with nothing in it: no body, no ETag
                return status, "OK", [], b""
            return status, "Error", [], _s3_error(code, f"{code} (injected)", path)
        return 503, "Slow Down", [], _s3_error("SlowDown", "Please reduce your request rate.", path)

    async def _answer(
        self,
        request: _Message,
        method: str,
        status: int,
        reason: str,
        extra: list[str],
        body: bytes,
    ) -> bool:
        """Answer without forwarding the request, as S3 (or what stands in for it) would."""
        expects_continue = "100-continue" in request.headers.get("expect", "").lower()
        has_body = request.is_chunked() or (request.content_length() or 0) > 0
        keep = not (has_body and expects_continue) and not request.wants_close()
        if has_body and not expects_continue:
            await _relay_body(request, self.reader, _NullSink())
        if not any(h.lower().startswith("content-type:") for h in extra):
            extra = ["Content-Type: application/xml", *extra]
        headers = [
            f"HTTP/1.1 {status} {reason}",
            *extra,
            f"Content-Length: {len(body)}",
            f"Connection: {'keep-alive' if keep else 'close'}",
        ]
        self.writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
        if method != "HEAD":
            self.writer.write(body)
        await self.writer.drain()
        return keep

    async def _faulty_body(
        self, fault: FaultName, up_reader: asyncio.StreamReader, length: int
    ) -> bool:
        """Send part of the body, then cut it off; True if the connection survives (a stall,
        a drip)."""
        faults = self.proxy.faults
        if fault == "drip":
            for _ in range(length):
                await _copy_exact(up_reader, self.writer, 1)
                await asyncio.sleep(faults.drip_seconds if faults else 1.0)
            return True
        part = max(1, min(length // 2, 1024 * 1024))
        await _copy_exact(up_reader, self.writer, part)
        await _flush(self.writer)
        if fault == "stall":
            await asyncio.sleep(faults.stall_seconds if faults else 0.0)
            await _copy_exact(up_reader, self.writer, length - part)
            return True
        self._close_upstream()
        if fault == "reset":
            _abort(self.writer)
        else:
            self.writer.close()
        return False


class _Sink(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


class _NullSink:
    """Swallows a request body that is being discarded."""

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


async def _relay_body(message: _Message, src: asyncio.StreamReader, dst: _Sink) -> None:
    length = message.content_length()
    if message.is_chunked():
        await _copy_chunked(src, dst)
    elif length:
        await _copy_exact(src, dst, length)
    else:
        await dst.drain()


async def _read_upstream_head(reader: asyncio.StreamReader) -> bytes:
    head = await _read_head(reader)
    if head is None:
        raise _Closed("upstream closed the connection")
    return head


async def _copy_exact(src: asyncio.StreamReader, dst: _Sink, length: int) -> None:
    remaining = length
    while remaining > 0:
        data = await src.read(min(CHUNK, remaining))
        if not data:
            raise _Closed("peer closed mid-body")
        remaining -= len(data)
        dst.write(data)
        await dst.drain()


async def _copy_chunked(src: asyncio.StreamReader, dst: _Sink) -> None:
    while True:
        line = await src.readuntil(b"\r\n")
        dst.write(line)
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while True:
                trailer = await src.readuntil(b"\r\n")
                dst.write(trailer)
                if trailer == b"\r\n":
                    await dst.drain()
                    return
        await _copy_exact(src, dst, size + 2)


async def _copy_to_eof(src: asyncio.StreamReader, dst: _Sink) -> None:
    while data := await src.read(CHUNK):
        dst.write(data)
        await dst.drain()


async def _flush(writer: asyncio.StreamWriter) -> None:
    """Wait until the kernel has every byte written so far, so a cut lands after them."""
    await writer.drain()
    while writer.transport.get_write_buffer_size() > 0 and not writer.transport.is_closing():
        await asyncio.sleep(0.001)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN, as a dropped connection looks to the client."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _s3_error(code: str, message: str, path: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{_xml_escape(path)}</Resource>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    ).encode()


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
