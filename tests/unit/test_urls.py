"""Bundle URLs as ids: what a URL promises, and how it is named without its signature.

The query string of a presigned URL is its credential, so every name the cache and the messages
use is the URL without it; these tests pin that down next to the parsing itself.
"""

from __future__ import annotations

import io

import pytest

from pipper.errors import UsageError
from pipper.keys import UrlTarget, redact_url
from pipper.specs import parse_package_id
from pipper.storage.http import HttpStorage

SIGNATURE = "X-Amz-Credential=AKIAFAKE&X-Amz-Signature=s3cr3t"


@pytest.mark.parametrize(
    ("url", "name", "version", "origin", "path"),
    [
        (  # path style, as a presigned URL from a local or compatible store
            f"http://127.0.0.1:9000/team/pipper/alpha_pkg/v1-2-0.pipper?{SIGNATURE}",
            "alpha_pkg",
            "1.2.0",
            "http://127.0.0.1:9000",
            "/team/pipper/alpha_pkg/v1-2-0.pipper",
        ),
        (  # virtual-hosted style, as AWS presigns by default; the default port stays implicit
            f"https://team.s3.eu-west-1.amazonaws.com/pkgs/solo/v2-1-0.pipper?{SIGNATURE}",
            "solo",
            "2.1.0",
            "https://team.s3.eu-west-1.amazonaws.com",
            "/pkgs/solo/v2-1-0.pipper",
        ),
        (  # the original's spelling of a prerelease
            "https://h.example/b/pipper/beta_pkg/v1-2-3__pre_alpha_1.pipper",
            "beta_pkg",
            "1.2.3-alpha.1",
            "https://h.example",
            "/b/pipper/beta_pkg/v1-2-3__pre_alpha_1.pipper",
        ),
        (  # percent-encoding is read, scheme and host are compared case-blind
            "HTTPS://Team.Example.COM:8443/x/alpha%5Fpkg/v1-0-0.pipper",
            "alpha_pkg",
            "1.0.0",
            "https://team.example.com:8443",
            "/x/alpha_pkg/v1-0-0.pipper",
        ),
        (
            "http://[::1]:9000/b/p/x/v1-0-0.pipper",
            "x",
            "1.0.0",
            "http://[::1]:9000",
            "/b/p/x/v1-0-0.pipper",
        ),
    ],
)
def test_a_bundle_url_names_its_package_version_and_place(
    url: str, name: str, version: str, origin: str, path: str
) -> None:
    target = UrlTarget.of(url)
    assert (target.name, target.version, target.origin, target.path) == (
        name,
        version,
        origin,
        path,
    )
    assert target.url == url
    assert target.shown == origin + path
    assert "s3cr3t" not in target.shown


@pytest.mark.parametrize(
    "url",
    [
        f"https://example.com/b/pipper/app/notes.txt?{SIGNATURE}",
        f"https://example.com/v1-0-0.pipper?{SIGNATURE}",
        f"https://example.com/b/pipper/app/vlatest.pipper?{SIGNATURE}",
        f"https://example.com/b/pipper/bad%20name/v1-0-0.pipper?{SIGNATURE}",
    ],
)
def test_a_url_that_is_no_bundle_is_refused_without_its_signature(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        UrlTarget.of(url)
    assert caught.value.message.startswith(f"package URL {url.split('?')[0]}")
    assert "s3cr3t" not in caught.value.message


def test_a_name_is_no_url() -> None:
    with pytest.raises(UsageError, match="is not a URL"):
        HttpStorage().candidate(parse_package_id("alpha_pkg"))


def test_redact_url_drops_the_query_the_fragment_and_user_info() -> None:
    assert redact_url("https://user:pw@host:1/a/b.pipper?sig=1#frag") == "https://host:1/a/b.pipper"
    assert redact_url("not a url?x") == "not a url"


def test_the_http_storage_keys_a_url_by_its_unsigned_form() -> None:
    url = f"https://h.example/b/pipper/solo/v1-0-0.pipper?{SIGNATURE}"
    candidate = HttpStorage().candidate(parse_package_id(url))
    assert candidate.key == "https://h.example/b/pipper/solo/v1-0-0.pipper"
    assert (candidate.name, candidate.version, candidate.size, candidate.etag) == (
        "solo",
        "1.0.0",
        0,
        "",
    )


@pytest.mark.anyio
async def test_the_http_storage_only_reads() -> None:
    storage = HttpStorage()
    with pytest.raises(UsageError, match="cannot be listed"):
        await storage.list("")
    with pytest.raises(UsageError, match="only read whole"):
        await storage.head("k")
    with pytest.raises(UsageError, match="already presigned"):
        await storage.presign("k", 60)
    with pytest.raises(UsageError, match="read-only"):
        await storage.put("k", io.BytesIO(b"bundle"), {}, if_absent=True)
