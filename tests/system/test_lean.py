"""The lean GET and LIST paths (``storage.s3lean``) against a real S3 server, beside botocore's own.

Each property the brief for it names is checked by doing the same thing both ways and comparing
what the user (or the server, or a host the user never named) sees: the bytes and fields of a
full and a ranged GET, the one-line errors for 404, 403, 412, 416 and redirects, the requests
a retry makes, the signed headers (session token included), the URL in path and virtual-hosted
style, and credentials a ``credential_process`` hands out for minutes at a time.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pipper.credentials import Credentials
from pipper.errors import PipperError
from pipper.settings import Settings
from pipper.storage.base import ObjectChanged
from pipper.storage.s3 import S3Storage
from pipper.storage.s3client import ClientSettings, open_client
from pipper.storage.s3lean import LeanS3
from tests.lib.cli import cli, publish_graph
from tests.lib.proxy import Faults, MakeProxy, Proxy
from tests.lib.s3servers import S3Server

pytestmark = pytest.mark.anyio

KEY = "pipper/lean/v1-0-0.pipper"
BODY = bytes(range(256)) * 300  # 75 KiB
METADATA = {"sha256": "0" * 64, "original-name": "lean-1.0.0"}
TOKEN = "FQoGZXIvYXdzEXAMPLE-lean-session-token"
PATHS = ("lean", "botocore")
ENV = "PIPPER_S3_LEAN"


@pytest.fixture
def seeded(s3_server: S3Server, bucket: str) -> str:
    s3_server.client().put_object(Bucket=bucket, Key=KEY, Body=BODY, Metadata=METADATA)
    return bucket


@asynccontextmanager
async def opened(
    s3_server: S3Server,
    bucket: str,
    path: str,
    *,
    endpoint: str | None = None,
    credentials: Credentials | None = None,
    **options: Any,
) -> AsyncIterator[S3Storage]:
    """An entered store whose GETs take ``path`` ("lean" or "botocore")."""
    credentials = credentials or Credentials(
        access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key
    )
    async with S3Storage(
        bucket=bucket,
        endpoint_url=endpoint or s3_server.endpoint_url,
        region=s3_server.region,
        credentials=credentials,
        retry_backoff=0.0,
        lean=path == "lean",
        **options,
    ) as store:
        yield store
    assert store._lean.lean is (path == "lean" if store.requests else None)


def with_token(s3_server: S3Server) -> Credentials:
    """The server's keys with a session token, as temporary credentials carry one."""
    return Credentials(
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
        session_token=TOKEN,
    )


async def fetched(store: S3Storage, *, start: int = 0, if_match: str | None = None) -> Any:
    async with store.get(KEY, start=start, if_match=if_match) as stream:
        body = b"".join([chunk async for chunk in stream.chunks()])
    return (
        stream.key,
        stream.etag,
        stream.total_size,
        stream.start,
        stream.metadata,
        body,
        stream.content_type,  # the simple index tells SeaweedFS folders by it
    )


async def failure(store: S3Storage, key: str = KEY, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(PipperError) as caught:
        async with store.get(key, **kwargs) as stream:
            async for _ in stream.chunks():
                pass
    return type(caught.value).__name__, str(caught.value)


async def both(s3_server: S3Server, bucket: str, what: Any, **options: Any) -> list[Any]:
    """``what(store)`` on the lean path, then on botocore's."""
    results = []
    for path in PATHS:
        async with opened(s3_server, bucket, path, **options) as store:
            results.append(await what(store))
    return results


# -- answers -----------------------------------------------------------------------------------


async def test_a_get_and_a_ranged_resume_answer_as_botocores(
    s3_server: S3Server, seeded: str
) -> None:
    async def gets(store: S3Storage) -> Any:
        whole = await fetched(store)
        resumed = await fetched(store, start=1000, if_match=whole[1])
        return whole, resumed, store.requests, store.retries

    lean, botocore = await both(s3_server, seeded, gets)
    assert lean == botocore
    whole, resumed, requests, retries = lean
    assert whole[2] == len(BODY) and whole[4] == METADATA and whole[5] == BODY
    assert resumed[2:4] == (len(BODY), 1000) and resumed[5] == BODY[1000:]
    assert (requests, retries) == (2, 0)


async def test_missing_changed_and_out_of_range_are_the_same_errors(
    s3_server: S3Server, seeded: str
) -> None:
    async def errors(store: S3Storage) -> list[tuple[str, str]]:
        return [
            await failure(store, "pipper/lean/v9-9-9.pipper"),
            await failure(store, start=10, if_match='"not-the-etag"'),
            await failure(store, start=len(BODY) + 10),
        ]

    lean, botocore = await both(s3_server, seeded, errors)
    assert lean == botocore
    assert lean[0] == ("NotFoundError", f"not found: pipper/lean/v9-9-9.pipper in s3://{seeded}")
    assert lean[1][0] == ObjectChanged.__name__
    assert "InvalidRange" in lean[2][1]


@pytest.mark.parametrize(("status", "code"), [(403, "AccessDenied"), (403, "InvalidAccessKeyId")])
async def test_refusals_are_the_same_line(
    s3_server: S3Server, seeded: str, make_proxy: MakeProxy, status: int, code: str
) -> None:
    proxy = make_proxy(faults=Faults(error_rate=1.0, error_status=status, error_code=code))
    lean, botocore = await both(s3_server, seeded, failure, endpoint=proxy.url)
    assert lean == botocore
    assert lean[0] == "AccessDeniedError"
    assert proxy.count("get") == 2  # one each: a refusal is never retried


async def test_wrong_credentials_are_refused_the_same_way(s3_server: S3Server, seeded: str) -> None:
    wrong = Credentials(access_key_id=s3_server.access_key, secret_access_key="not-the-secret")

    async def outcome(store: S3Storage) -> Any:
        try:
            return await fetched(store)
        except PipperError as exc:
            return type(exc).__name__, str(exc)

    lean, botocore = await both(s3_server, seeded, outcome, credentials=wrong)
    assert lean == botocore
    if s3_server.kind == "seaweedfs":  # moto takes any signature, and answers both alike
        assert lean == ("AccessDeniedError", f"the credentials were refused by s3://{seeded} "
                        "(SignatureDoesNotMatch)")  # fmt: skip


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        Faults(slowdown_rate=1.0, max_faults=4, only={"get"}),
        Faults(error_rate=1.0, error_status=500, error_code="InternalError", max_faults=4),
    ],
    ids=["503-slowdown", "500"],
)
async def test_throttling_and_server_errors_are_retried_as_botocore_retries_them(
    s3_server: S3Server, seeded: str, make_proxy: MakeProxy, faults: Faults
) -> None:
    async def through(store: S3Storage) -> Any:
        return await fetched(store), store.requests, store.retries

    counts = []
    results = []
    for path in PATHS:
        proxy = make_proxy(faults=dataclasses.replace(faults, only={"get"}))
        async with opened(s3_server, seeded, path, endpoint=proxy.url) as store:
            results.append(await through(store))
        counts.append([r.status for r in proxy.requests])
    assert results[0] == results[1]
    assert results[0][0][5] == BODY
    # Two attempts a round fail (botocore's three, less the last), a second round then succeeds.
    assert results[0][1:] == (1, 4)
    assert counts[0] == counts[1] == [faults.error_status if faults.error_rate else 503] * 4 + [200]


async def test_a_store_that_never_recovers_fails_in_the_same_attempts_and_words(
    s3_server: S3Server, seeded: str, make_proxy: MakeProxy
) -> None:
    proxies: list[Proxy] = []

    async def exhausted(store: S3Storage) -> Any:
        return await failure(store), store.attempts

    results = []
    for path in PATHS:
        proxies.append(make_proxy(faults=Faults(slowdown_rate=1.0)))
        async with opened(
            s3_server, seeded, path, endpoint=proxies[-1].url, max_attempts=2, rounds=2
        ) as store:
            results.append(await exhausted(store))
    assert results[0] == results[1]
    assert results[0] == (("NetworkError", f"s3://{seeded} kept failing (SlowDown) for {KEY}"), 4)
    assert proxies[0].count("get") == proxies[1].count("get") == 4


async def test_a_connection_that_never_answers_is_retried_and_said_so(
    s3_server: S3Server, seeded: str, make_proxy: MakeProxy, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = make_proxy(faults=Faults(silent_rate=1.0, max_faults=1, only={"get"}))
    caplog.set_level(logging.WARNING, logger="pipper.storage.s3")
    async with opened(s3_server, seeded, "lean", endpoint=proxy.url, read_timeout=1) as store:
        assert (await fetched(store))[5] == BODY
        assert store.retries == 1
    assert proxy.count("get") == 2
    assert any("no answer from" in r.getMessage() for r in caplog.records)


# -- redirects ---------------------------------------------------------------------------------


async def test_a_redirect_is_never_followed_and_is_the_same_error(
    s3_server: S3Server, seeded: str, make_proxy: MakeProxy
) -> None:
    elsewhere = make_proxy()
    front = make_proxy(faults=Faults(redirect_rate=1.0, redirect_to=elsewhere.url))
    credentials = with_token(s3_server)
    lean, botocore = await both(
        s3_server, seeded, failure, endpoint=front.url, credentials=credentials
    )
    assert lean == botocore
    assert lean[0] == "WrongEndpoint" and f"redirect (HTTP 307 to {elsewhere.url}" in lean[1]
    assert elsewhere.requests == []
    assert [r.status for r in front.requests] == [307, 307]
    assert all(r.headers.get("x-amz-security-token") == TOKEN for r in front.requests)
    assert TOKEN not in lean[1]


@pytest.mark.parametrize("region", [None, "eu-west-1"])
async def test_a_bucket_elsewhere_is_the_same_region_error(
    s3_server: S3Server, seeded: str, make_proxy: MakeProxy, region: str | None
) -> None:
    front = make_proxy(
        faults=Faults(redirect_rate=1.0, redirect_status=301, redirect_region=region)
    )
    lean, botocore = await both(s3_server, seeded, failure, endpoint=front.url)
    assert lean == botocore
    if region:
        assert lean == ("ConfigError", f"the bucket {seeded} is in the region eu-west-1, not "
                        f"{s3_server.region}: pass --region eu-west-1")  # fmt: skip
    else:
        assert lean[0] == "WrongEndpoint" and "redirect (HTTP 301)" in lean[1]
    assert front.count() == 2


# -- what is signed and where it goes ----------------------------------------------------------


def _signed(record: Any) -> dict[str, str]:
    """The parts of a request its signature covers, less the date and the signature itself."""
    headers = dict(record.headers)
    authorization = headers["authorization"]
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0]
    return {
        "path": record.path,
        "query": record.query,
        "scope": "/".join(scope[:1] + scope[2:]),
        "signed-headers": signed,
        **{name: headers.get(name, "") for name in signed.split(";") if name != "x-amz-date"},
    }


@pytest.mark.parametrize("key", [KEY, "pipper/odd name+plus~tilde/ü €/v1.pipper"])
async def test_the_request_signs_what_botocore_signs_token_included(
    s3_server: S3Server, seeded: str, make_proxy: MakeProxy, key: str
) -> None:
    proxy = make_proxy(faults=Faults(error_rate=1.0, error_status=404, error_code="NoSuchKey"))
    credentials = with_token(s3_server)

    async def missing(store: S3Storage) -> Any:
        return await failure(store, key, start=5, if_match='"abc"')

    lean, botocore = await both(
        s3_server, seeded, missing, endpoint=proxy.url, credentials=credentials
    )
    assert lean == botocore == ("NotFoundError", f"not found: {key} in s3://{seeded}")
    first, second = (_signed(r) for r in proxy.requests)
    assert first == second
    assert first["x-amz-security-token"] == TOKEN
    assert first["range"] == "bytes=5-" and first["if-match"] == '"abc"'
    assert first["x-amz-content-sha256"]


@pytest.mark.parametrize("style", ["path", "virtual"])
async def test_the_url_is_the_one_the_clients_addressing_style_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str], style: str
) -> None:
    # An endpoint that resolves nowhere: each path's failure names the URL it would have sent.
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\ns3 =\n    addressing_style = {style}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    key = "pipper/odd name+plus~tilde/ü €/v1.pipper"
    urls = []
    for lean in (True, False):
        async with AsyncExitStack() as stack:
            client = await open_client(
                stack,
                ClientSettings(
                    credentials=Credentials(access_key_id="AKIDLEAN", secret_access_key="x"),
                    endpoint_url="http://s3.pipper.invalid:9000",
                    region="eu-west-1",
                    pool=10,
                    attempts=1,
                    read_timeout=5,
                    connect_timeout=5,
                ),
            )
            getter = LeanS3(functools.partial(_same, client), "bucket", lambda: None, on=lean)
            with pytest.raises(Exception) as caught:
                await getter.get_object(Bucket="bucket", Key=key)
            assert getter.lean is lean
            urls.append(str(caught.value))
    assert urls[0] == urls[1]
    host = (
        "bucket.s3.pipper.invalid:9000/" if style == "virtual" else "s3.pipper.invalid:9000/bucket/"
    )
    assert f'"http://{host}pipper/odd%20name%2Bplus~tilde/%C3%BC%20%E2%82%AC/v1.pipper"' in urls[0]


def _same(client: Any) -> Any:
    return client


# -- credentials that expire -------------------------------------------------------------------


def _credential_process(tmp_path: Path, s3_server: S3Server) -> tuple[Path, Path]:
    """An AWS config whose profile gets keys from a process that says they expire in 5 minutes
    (inside botocore's 10-minute mandatory refresh window), and the file counting its runs."""
    runs = tmp_path / "runs"
    script = tmp_path / "creds.py"
    script.write_text(
        "import datetime, json, pathlib\n"
        f"with pathlib.Path({str(runs)!r}).open('a') as f: f.write('run\\n')\n"
        "expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)\n"
        "print(json.dumps({'Version': 1, "
        f"'AccessKeyId': {s3_server.access_key!r}, 'SecretAccessKey': {s3_server.secret_key!r}, "
        "'Expiration': expires.isoformat()}))\n"
    )
    config = tmp_path / "aws-config"
    config.write_text(f"[profile expiring]\ncredential_process = {sys.executable} {script}\n")
    return config, runs


@pytest.mark.parametrize("kind", ["get", "list"])
async def test_credentials_that_expire_are_refreshed_for_every_request(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_env: dict[str, str],
    s3_server: S3Server,
    seeded: str,
    make_proxy: MakeProxy,
    kind: str,
) -> None:
    config, runs = _credential_process(tmp_path, s3_server)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    proxy = make_proxy()
    credentials = Credentials(profile="expiring")

    async def once(store: S3Storage) -> None:
        if kind == "get":
            assert (await fetched(store))[5] == BODY
        else:
            assert [o.key for o in (await store.list("pipper/lean/")).objects] == [KEY]

    async with opened(
        s3_server, seeded, "lean", endpoint=proxy.url, credentials=credentials
    ) as store:
        await once(store)  # the first also learns the route
        before = len(runs.read_text().splitlines())
        for _ in range(3):
            await once(store)
        after = len(runs.read_text().splitlines())
    assert after - before >= 3, (before, after)
    assert proxy.count(kind) == 4
    assert {r.status for r in proxy.requests} == {200}


# -- the switch --------------------------------------------------------------------------------


def test_the_switch_is_a_setting_on_by_default() -> None:
    assert Settings({}).lean_s3 is True
    assert Settings({"PIPPER_S3_LEAN": "0"}).lean_s3 is False
    assert Settings({"PIPPER_S3_LEAN": "yes"}).lean_s3 is True
    with pytest.raises(PipperError, match="PIPPER_S3_LEAN must be 1 or 0"):
        _ = Settings({"PIPPER_S3_LEAN": "maybe"}).lean_s3


def test_a_download_takes_either_path_and_a_bad_switch_is_one_line(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    publish_graph(tmp_path, ["-b", bucket], {"a": {"1.0.0": ["b"]}, "b": {"1.0.0": []}})
    for flag in ("1", "0"):
        out = tmp_path / f"v{flag}"
        result = cli("-q", "download", "a", "-b", bucket, "-d", str(out), env={ENV: flag})
        assert result.exit_code == 0, result.stderr
        assert sorted(p.name for p in out.iterdir()) == ["a-v1-0-0.pipper", "b-v1-0-0.pipper"]
    result = cli("download", "a", "-b", bucket, "-d", str(tmp_path / "x"), env={ENV: "maybe"})
    assert result.exit_code != 0
    assert result.stderr.strip().splitlines() == [
        "error: PIPPER_S3_LEAN must be 1 or 0 (true/false, yes/no, on/off), not 'maybe'"
    ]
