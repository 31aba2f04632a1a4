"""The parts of the S3 client pipper sets itself: timestamps parsed without dateutil, and no
TLS context for a store spoken to over plain HTTP."""

from __future__ import annotations

import ssl
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.utils import parse_timestamp

from pipper.credentials import Credentials
from pipper.storage.s3client import ClientSettings, fast_timestamp, open_client


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T23:49:22.000Z",  # a listing's LastModified
        "2026-12-01T23:49:22Z",
        "Tue, 01 Dec 2026 23:49:22 GMT",  # a Last-Modified header
        "1764632962",  # epoch seconds: botocore's own parser
    ],
)
def test_fast_timestamps_equal_botocores(text: str) -> None:
    fast, slow = fast_timestamp(text), parse_timestamp(text)
    assert fast == slow
    assert fast.utcoffset() is not None  # aware, so comparisons never mix naive and aware


def test_fast_timestamp_reads_both_s3_forms_as_utc() -> None:
    expected = datetime(2026, 12, 1, 23, 49, 22, tzinfo=UTC)
    assert fast_timestamp("2026-12-01T23:49:22.000Z") == expected
    assert fast_timestamp("Tue, 01 Dec 2026 23:49:22 GMT") == expected


async def _connector_tls(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    endpoint_url: str | None,
    *,
    from_env: bool = False,
    proxy_url: str | None = None,
) -> object:
    """The ``ssl`` given to the connector of a real client of ``endpoint_url`` (passed, or set
    as ``AWS_ENDPOINT_URL_S3``) for a request sent through ``proxy_url``; no request is sent."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    if from_env and endpoint_url is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint_url)
    settings = ClientSettings(
        credentials=Credentials(access_key_id="AKIDEXAMPLE", secret_access_key="secret"),
        endpoint_url=None if from_env else endpoint_url,
        region="us-east-1",
        pool=4,
        attempts=2,
        read_timeout=5,
        connect_timeout=5,
    )
    async with AsyncExitStack() as stack:
        client: Any = await open_client(stack, settings)
        session = client._endpoint.http_session
        built: list[object] = []
        make_context = session._get_ssl_context

        def watched() -> object:
            built.append(context := make_context())
            return context

        session._get_ssl_context = watched
        connector = session._create_connector(proxy_url)
        try:
            tls: object = connector._ssl
        finally:
            await connector.close()
    assert bool(built) == isinstance(tls, ssl.SSLContext)  # built only where it is used
    return tls


@pytest.mark.anyio
@pytest.mark.parametrize("from_env", [False, True])
async def test_an_http_endpoint_builds_no_tls_context_and_never_turns_verification_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, from_env: bool
) -> None:
    endpoint = "http://127.0.0.1:9"
    tls = await _connector_tls(monkeypatch, tmp_path, endpoint, from_env=from_env)
    assert tls is True  # aiohttp's own verified context, should an https request ever go


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint_url", [None, "https://s3.example.test", "HTTPS://s3.test"])
async def test_an_https_endpoint_gets_botocores_tls_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint_url: str | None
) -> None:
    tls = await _connector_tls(monkeypatch, tmp_path, endpoint_url)
    assert isinstance(tls, ssl.SSLContext)


@pytest.mark.anyio
async def test_through_a_proxy_the_connector_is_aiobotocores_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from aiobotocore.httpsession import AIOHTTPSession

    proxy = "http://proxy.example.test:3128"
    ours = await _connector_tls(monkeypatch, tmp_path, "http://127.0.0.1:9", proxy_url=proxy)
    theirs = AIOHTTPSession(verify=True)._create_connector(proxy)
    try:
        assert ours == theirs._ssl
    finally:
        await theirs.close()
