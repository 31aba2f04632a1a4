"""The lean LIST path (``storage.s3lean``) against a real S3 server, beside botocore's own path.

As ``test_lean`` does for GETs: the same listing is made both ways and what the user, the server
or a host the user never named sees is compared: the keys (odd ones included, which only a
listing decoded from ``encoding-type=url`` gets right), folders, pages, the one-line errors, the
requests a retry makes, the signed query (session token included), a redirect and a region
error. Credentials that expire are refreshed for listings as for GETs (``test_lean``).
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs

import pytest

from pipper.errors import PipperError
from pipper.storage.base import Listing
from pipper.storage.s3 import S3Storage
from tests.lib.proxy import Faults, MakeProxy
from tests.lib.s3servers import S3Server
from tests.system.test_lean import PATHS, TOKEN, _signed, both, opened, with_token

pytestmark = pytest.mark.anyio

ODD = (
    "pipper/odd name+plus~tilde/ü €/v1.pipper",
    "pipper/odd name+plus~tilde/a&b<c>'\"d.pipper",
    "pipper/odd name+plus~tilde/percent%41.pipper",
    "pipper/odd name+plus~tilde/sub/deeper.pipper",
)
PLAIN = tuple(f"pipper/plain/v{i}-0-0.pipper" for i in range(5))


@pytest.fixture
def listed(s3_server: S3Server, bucket: str) -> str:
    client = s3_server.client()
    for key in (*ODD, *PLAIN):
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def _shape(listing: Listing) -> Any:
    """What a listing says, less the server's timestamps' microseconds."""
    return (
        [(o.key, o.size, o.etag) for o in listing.objects],
        list(listing.prefixes),
        listing.truncated,
    )


async def listing_failure(store: S3Storage, prefix: str = "pipper/") -> tuple[str, str]:
    with pytest.raises(PipperError) as caught:
        await store.list(prefix)
    return type(caught.value).__name__, str(caught.value)


# -- answers -----------------------------------------------------------------------------------


async def test_odd_keys_folders_and_pages_are_listed_as_botocore_lists_them(
    s3_server: S3Server, listed: str
) -> None:
    async def listings(store: S3Storage) -> Any:
        return (
            _shape(await store.list("pipper/odd name+plus~tilde/")),
            _shape(await store.list("pipper/odd name+plus~tilde/", delimiter="/")),
            _shape(await store.list("pipper/", delimiter="/")),
            _shape(await store.list("pipper/plain/", limit=2)),
            _shape(await store.list("pipper/nothing-here/")),
            store.requests,
        )

    lean, botocore = await both(s3_server, listed, listings)
    assert lean == botocore
    whole, folders, top, short, empty, requests = lean
    assert [key for key, _, _ in whole[0]] == sorted(ODD)
    assert whole[0][0][1] == len(sorted(ODD)[0].encode())
    assert folders[1] == ["pipper/odd name+plus~tilde/sub/", "pipper/odd name+plus~tilde/ü €/"]
    assert len(folders[0]) == 2
    assert top == ([], ["pipper/odd name+plus~tilde/", "pipper/plain/"], False)
    assert [key for key, _, _ in short[0]] == list(PLAIN[:2]) and short[2] is True
    assert empty == ([], [], False)
    assert requests == 5


async def test_a_listing_past_one_page_follows_the_continuation_token(
    s3_server: S3Server, listed: str, make_proxy: MakeProxy
) -> None:
    async def paged(store: S3Storage) -> Any:
        original = store._lean.list_objects_v2

        async def two_a_page(**kwargs: Any) -> Any:  # a page of two, so five keys take three
            return await original(**{**kwargs, "MaxKeys": 2})

        store._lean.list_objects_v2 = two_a_page  # type: ignore[method-assign]
        return _shape(await store.list("pipper/plain/")), store.requests

    queries = []
    results = []
    for path in PATHS:
        proxy = make_proxy()
        async with opened(s3_server, listed, path, endpoint=proxy.url) as store:
            results.append(await paged(store))
        queries.append([parse_qs(r.query) for r in proxy.requests])
    assert results[0] == results[1]
    assert [key for key, _, _ in results[0][0][0]] == list(PLAIN)
    assert [len(q) for q in queries] == [3, 3]
    assert [q.get("continuation-token") is not None for q in queries[0]] == [False, True, True]
    assert queries[0] == queries[1]


async def test_a_missing_bucket_and_a_refusal_are_the_same_line(
    s3_server: S3Server, listed: str, make_proxy: MakeProxy
) -> None:
    missing = await both(s3_server, listed + "-nowhere", listing_failure)
    assert missing[0] == missing[1]
    assert missing[0][0] == "NotFoundError" and listed + "-nowhere" in missing[0][1]
    proxy = make_proxy(faults=Faults(error_rate=1.0, error_status=403, error_code="AccessDenied"))
    refused = await both(s3_server, listed, listing_failure, endpoint=proxy.url)
    assert refused[0] == refused[1]
    assert refused[0][0] == "AccessDeniedError"
    assert proxy.count("list") == 2  # one each: a refusal is never retried


async def test_a_captive_portal_is_the_same_line(
    s3_server: S3Server, listed: str, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(faults=Faults(html_rate=1.0))
    lean, botocore = await both(s3_server, listed, listing_failure, endpoint=proxy.url)
    assert lean == botocore
    assert lean[0] == "WrongEndpoint" and "not an S3 listing (text/html" in lean[1]


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        Faults(slowdown_rate=1.0, max_faults=4),
        Faults(error_rate=1.0, error_status=500, error_code="InternalError", max_faults=4),
        Faults(reset_rate=0.5, truncate_rate=0.5, max_faults=4),
    ],
    ids=["503-slowdown", "500", "body-cut"],
)
async def test_throttling_server_errors_and_resets_are_retried_as_botocore_retries_them(
    s3_server: S3Server, listed: str, make_proxy: MakeProxy, faults: Faults
) -> None:
    results = []
    statuses = []
    for path in PATHS:
        proxy = make_proxy(faults=dataclasses.replace(faults, only={"list"}))
        async with opened(s3_server, listed, path, endpoint=proxy.url) as store:
            results.append((_shape(await store.list("pipper/plain/")), store.retries))
        statuses.append([r.status for r in proxy.requests])
    assert results[0] == results[1]
    assert [key for key, _, _ in results[0][0][0]] == list(PLAIN)
    assert results[0][1] == (faults.max_faults or 0)
    assert statuses[0] == statuses[1]
    assert len(statuses[0]) == (faults.max_faults or 0) + 1 and statuses[0][-1] == 200


async def test_a_store_that_never_recovers_fails_in_the_same_attempts_and_words(
    s3_server: S3Server, listed: str, make_proxy: MakeProxy
) -> None:
    results = []
    for path in PATHS:
        proxy = make_proxy(faults=Faults(slowdown_rate=1.0))
        async with opened(
            s3_server, listed, path, endpoint=proxy.url, max_attempts=2, rounds=2
        ) as store:
            results.append((await listing_failure(store), store.attempts, proxy.count("list")))
    assert results[0] == results[1]
    assert results[0][0] == (
        "NetworkError",
        f"s3://{listed} kept failing (SlowDown) for listing pipper/",
    )
    assert results[0][1:] == (4, 4)


# -- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("region", [None, "eu-west-1"])
async def test_a_redirect_is_never_followed_and_a_bucket_elsewhere_is_the_same_error(
    s3_server: S3Server, listed: str, make_proxy: MakeProxy, region: str | None
) -> None:
    elsewhere = make_proxy()
    front = make_proxy(
        faults=Faults(
            redirect_rate=1.0,
            redirect_status=301 if region else 307,
            redirect_to="" if region else elsewhere.url,
            redirect_region=region,
        )
    )
    lean, botocore = await both(s3_server, listed, listing_failure, endpoint=front.url)
    assert lean == botocore
    if region:
        assert lean == ("ConfigError", f"the bucket {listed} is in the region eu-west-1, not "
                        f"{s3_server.region}: pass --region eu-west-1")  # fmt: skip
    else:
        assert lean[0] == "WrongEndpoint" and f"redirect (HTTP 307 to {elsewhere.url}" in lean[1]
    assert elsewhere.requests == []
    assert front.count("list") == 2


# -- what is signed ----------------------------------------------------------------------------


async def test_the_listing_signs_what_botocore_signs_token_included(
    s3_server: S3Server, listed: str, make_proxy: MakeProxy
) -> None:
    proxy = make_proxy(faults=Faults(error_rate=1.0, error_status=403, error_code="AccessDenied"))
    credentials = with_token(s3_server)

    async def refused(store: S3Storage) -> Any:
        with pytest.raises(PipperError):
            await store.list("pipper/odd name+plus~tilde/ü", delimiter="/")

    await both(s3_server, listed, refused, endpoint=proxy.url, credentials=credentials)
    first, second = ({**_signed(r), "query": parse_qs(r.query)} for r in proxy.requests)
    assert first == second
    assert first["x-amz-security-token"] == TOKEN
    assert first["query"] == {
        "list-type": ["2"],
        "prefix": ["pipper/odd name+plus~tilde/ü"],
        "delimiter": ["/"],
        "max-keys": ["1000"],
        "encoding-type": ["url"],
    }
