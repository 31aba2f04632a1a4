"""The fault proxy: relaying byte for byte, counting by kind, latency and every fault kind."""

from __future__ import annotations

import asyncio
import http.client
import http.server
import io
import os
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.lib.polling import wait_for
from tests.lib.proxy import Faults, MakeProxy, classify
from tests.lib.s3servers import S3Server


def _presigned_get(s3_server: S3Server, endpoint: str, bucket: str, key: str) -> str:
    url: str = s3_server.client(endpoint_url=endpoint).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    return url


def _raw_get(
    url: str, timeout: float = 10.0
) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    conn.request("GET", f"{parts.path}?{parts.query}")
    return conn.getresponse(), conn


def test_proxy_relays_and_counts_by_kind(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy()
    client = s3_server.client(endpoint_url=proxy.url, max_attempts=1)
    big = os.urandom(3 * 1024 * 1024 + 17)

    client.put_object(Bucket=bucket, Key="a/small.txt", Body=b"hello")
    client.put_object(Bucket=bucket, Key="a/big.bin", Body=io.BytesIO(big))
    assert client.get_object(Bucket=bucket, Key="a/big.bin")["Body"].read() == big
    head = client.head_object(Bucket=bucket, Key="a/small.txt")
    listing = client.list_objects_v2(Bucket=bucket, Prefix="a/")

    assert head["ContentLength"] == 5
    assert sorted(o["Key"] for o in listing["Contents"]) == ["a/big.bin", "a/small.txt"]
    assert (proxy.count("put"), proxy.count("get"), proxy.count("head")) == (2, 1, 1)
    assert proxy.count("list") == 1
    assert proxy.count("all") == 5
    assert all(r.status == 200 for r in proxy.requests)
    proxy.reset()
    assert proxy.count() == 0
    direct = s3_server.client().get_object(Bucket=bucket, Key="a/small.txt")["Body"].read()
    assert direct == b"hello"


def test_classify_kinds() -> None:
    assert classify("GET", "/b", "list-type=2&prefix=x%2F") == "list"
    assert classify("GET", "/b/", "") == "list"
    assert classify("GET", "/b", "location") == "other"
    assert classify("GET", "/b/k/with/slashes", "X-Amz-Signature=abc") == "get"
    assert classify("HEAD", "/b/k", "") == "head"
    assert classify("PUT", "/b/k", "partNumber=1&uploadId=u") == "put"
    assert classify("PUT", "/b", "") == "other"
    assert classify("GET", "/", "") == "other"


@pytest.mark.timing
def test_latency_is_per_request_and_concurrent(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    delay = 0.2
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=b"payload")
    proxy = make_proxy(latency_ms=delay * 1000)
    url = _presigned_get(s3_server, proxy.url, bucket, "k")

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    started = time.perf_counter()
    for _ in range(2):
        conn.request("GET", f"{parts.path}?{parts.query}")
        assert conn.getresponse().read() == b"payload"
    sequential = time.perf_counter() - started
    conn.close()
    assert sequential >= 2 * delay, "each request on a kept-alive connection is delayed"

    def fetch(_: int) -> bytes:
        with urllib.request.urlopen(url, timeout=10) as response:
            body: bytes = response.read()
        return body

    proxy.reset()
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(fetch, range(4)))
    concurrent = time.perf_counter() - started
    assert bodies == [b"payload"] * 4
    assert concurrent >= delay
    assert proxy.peak_in_flight >= 2, "requests on different connections wait together"


def test_slowdown_fault_reaches_client_without_retries(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(faults=Faults(slowdown_rate=1.0))
    client = s3_server.client(endpoint_url=proxy.url, max_attempts=1)
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=bucket, Key="never-forwarded")
    assert info.value.response["Error"]["Code"] == "SlowDown"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert proxy.faults_injected == 1
    assert [r.status for r in proxy.requests] == [503]


def test_max_faults_and_only_limit_injection(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=b"payload")
    proxy = make_proxy(faults=Faults(slowdown_rate=1.0, only={"get"}, max_faults=1))
    client = s3_server.client(endpoint_url=proxy.url, max_attempts=1)
    assert client.head_object(Bucket=bucket, Key="k")["ContentLength"] == 7
    with pytest.raises(ClientError):
        client.get_object(Bucket=bucket, Key="k")
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"payload"
    assert [r.status for r in proxy.requests] == [200, 503, 200]
    assert proxy.faults_injected == 1


def test_presigned_get_through_proxy(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    s3_server.client().put_object(Bucket=bucket, Key="dir/file.bin", Body=b"\x00\x01signed")
    proxy = make_proxy()
    url = _presigned_get(s3_server, proxy.url, bucket, "dir/file.bin")
    assert url.startswith(proxy.url)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"\x00\x01signed"
    assert proxy.count("get") == 1


def test_truncated_body_is_detected(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    payload = os.urandom(200_000)
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=payload)
    proxy = make_proxy(faults=Faults(truncate_rate=1.0))
    response, conn = _raw_get(_presigned_get(s3_server, proxy.url, bucket, "k"))
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(payload)
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert 0 < len(info.value.partial) < len(payload)
    assert payload.startswith(info.value.partial)
    assert proxy.faults_injected == 1
    conn.close()


def test_reset_fault_breaks_the_read(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=os.urandom(200_000))
    proxy = make_proxy(faults=Faults(reset_rate=1.0))
    url = _presigned_get(s3_server, proxy.url, bucket, "k")
    response, conn = _raw_get(url)
    assert response.status == 200
    with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
        response.read()
    assert proxy.faults_injected == 1
    conn.close()


@pytest.mark.timing
def test_stall_fault_pauses_then_resumes(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    payload = os.urandom(100_000)
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=payload)
    proxy = make_proxy(faults=Faults(stall_rate=1.0, stall_seconds=0.3))
    url = _presigned_get(s3_server, proxy.url, bucket, "k")
    started = time.perf_counter()
    response, conn = _raw_get(url)
    assert response.read() == payload
    assert time.perf_counter() - started >= 0.3
    conn.close()

    response, conn = _raw_get(url, timeout=0.1)
    with pytest.raises(TimeoutError):
        response.read()
    conn.close()


def test_drip_fault_sends_the_whole_body_one_byte_at_a_time(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    payload = b"drip" * 8
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=payload)
    proxy = make_proxy(faults=Faults(drip_rate=1.0, drip_seconds=0.02))
    started = time.perf_counter()
    response, conn = _raw_get(_presigned_get(s3_server, proxy.url, bucket, "k"), timeout=0.5)
    first = response.read1(1024)
    assert len(first) < len(payload)  # one byte, not the body
    assert first + response.read() == payload  # no read waited the 0.5 s socket timeout
    assert time.perf_counter() - started >= len(payload) * 0.02
    assert [r.fault for r in proxy.requests] == ["drip"]
    conn.close()


def test_silent_fault_never_answers_not_even_100_continue(make_proxy: MakeProxy) -> None:
    proxy = make_proxy(faults=Faults(silent_rate=1.0))
    parts = urlsplit(proxy.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=0.3)
    conn.putrequest("PUT", "/b/k")
    conn.putheader("Content-Length", "5")
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    assert [(r.kind, r.status, r.fault) for r in proxy.requests] == [("put", 0, "silent")]
    assert proxy.requests[0].headers["expect"] == "100-continue"


def test_redirect_fault_points_elsewhere_and_forwards_nothing(make_proxy: MakeProxy) -> None:
    proxy = make_proxy(
        faults=Faults(redirect_rate=1.0, redirect_to="http://elsewhere:9", redirect_region="r-1")
    )
    response, conn = _raw_get(f"{proxy.url}/b/k?x=1")
    assert response.status == 307
    assert response.headers["Location"] == "http://elsewhere:9/b/k?x=1"
    assert response.headers["x-amz-bucket-region"] == "r-1"
    assert b"<Code>TemporaryRedirect</Code>" in response.read()
    conn.close()


def test_html_and_error_faults_answer_for_the_store(make_proxy: MakeProxy) -> None:
    portal = make_proxy(faults=Faults(html_rate=1.0))
    response, conn = _raw_get(f"{portal.url}/b?list-type=2")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"<html>" in response.read()
    conn.close()
    skewed = make_proxy(faults=Faults(error_rate=1.0))
    response, conn = _raw_get(f"{skewed.url}/b/k")
    assert response.status == 403
    assert b"<Code>RequestTimeTooSkewed</Code>" in response.read()
    conn.close()


def test_hold_stops_requests_of_a_kind_until_released(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=b"held")
    proxy = make_proxy()
    client = s3_server.client(endpoint_url=proxy.url, max_attempts=1)
    proxy.hold("get")
    with ThreadPoolExecutor(1) as pool:
        body = pool.submit(lambda: client.get_object(Bucket=bucket, Key="k")["Body"].read())
        wait_for(lambda: proxy.waiting, what="the GET to be held")
        assert client.head_object(Bucket=bucket, Key="k")["ContentLength"] == 4  # not held
        assert not body.done()
        proxy.release("get")
        assert body.result(timeout=10) == b"held"
    assert proxy.waiting == []


@pytest.mark.timing
def test_proxy_overhead_is_small(s3_server: S3Server, bucket: str, make_proxy: MakeProxy) -> None:
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=b"x" * 1024)
    proxy = make_proxy()

    def timed(endpoint: str, n: int = 100) -> float:
        url = urlsplit(_presigned_get(s3_server, endpoint, bucket, "k"))
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        target = f"{url.path}?{url.query}"
        conn.request("GET", target)
        conn.getresponse().read()
        started = time.perf_counter()
        for _ in range(n):
            conn.request("GET", target)
            assert len(conn.getresponse().read()) == 1024
        conn.close()
        return (time.perf_counter() - started) / n

    overhead = min(timed(proxy.url) for _ in range(2)) - timed(s3_server.endpoint_url)
    # The proxy itself adds about 0.3 ms here; the bound leaves room for a busy CI machine.
    assert overhead < 0.003, f"proxy adds {overhead * 1000:.2f} ms per request"


def test_chunked_upload_through_proxy(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy()
    url = urlsplit(
        s3_server.client(endpoint_url=proxy.url).generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": "chunked"}, ExpiresIn=300
        )
    )
    parts = [os.urandom(70_000) for _ in range(4)]
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    conn.request("PUT", f"{url.path}?{url.query}", body=iter(parts), encode_chunked=True)
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200
    stored = s3_server.client().get_object(Bucket=bucket, Key="chunked")["Body"].read()
    assert stored == b"".join(parts)


class _OddUpstream(http.server.BaseHTTPRequestHandler):
    """Answers the framings S3 servers rarely use: chunked, and HTTP/1.0 read-until-close."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.protocol_version = "HTTP/1.0"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"until close")
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_proxy_relays_chunked_and_close_delimited_responses(make_proxy: MakeProxy) -> None:
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OddUpstream)
    thread = threading.Thread(target=upstream.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        proxy = make_proxy(upstream=f"http://127.0.0.1:{upstream.server_address[1]}")
        port = urlsplit(proxy.url).port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for _ in range(2):
            conn.request("GET", "/chunked")
            assert conn.getresponse().read() == b"hello chunked world"
        conn.request("GET", "/eof")
        assert conn.getresponse().read() == b"until close"
        conn.close()
        assert [r.status for r in proxy.requests] == [200, 200, 200]
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_aioboto3_concurrency_through_latency(
    s3_server: S3Server, bucket: str, make_proxy: MakeProxy
) -> None:
    import aioboto3
    from aiobotocore.config import AioConfig

    s3_server.client().put_object(Bucket=bucket, Key="k", Body=b"x" * 10_000)
    delay, n = 0.1, 20
    proxy = make_proxy(latency_ms=delay * 1000)

    async def fetch_all() -> list[int]:
        session = aioboto3.Session(
            aws_access_key_id=s3_server.access_key,
            aws_secret_access_key=s3_server.secret_key,
            region_name=s3_server.region,
        )
        config = AioConfig(max_pool_connections=n)
        async with session.client("s3", endpoint_url=proxy.url, config=config) as client:

            async def one() -> int:
                response = await client.get_object(Bucket=bucket, Key="k")
                async with response["Body"] as body:
                    return len(await body.read())

            return list(await asyncio.gather(*(one() for _ in range(n))))

    sizes = asyncio.run(fetch_all())
    assert sizes == [10_000] * n
    assert proxy.count("get") == n
    # Sequential GETs would never overlap; a pool that caps concurrency would overlap a few.
    assert proxy.peak_in_flight >= 4, f"at most {proxy.peak_in_flight} GETs were in flight"
