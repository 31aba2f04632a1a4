"""The one aiobotocore client of a run: its configuration, and the redirects it never follows.

botocore stays the source of truth for the session, the credential chain, the signer and the
retry mode; this module only chooses their settings and switches off the two ways a request
would be sent somewhere the user never named:

- aiohttp follows a 307 by default, with every header of the signed request (the session token
  among them) sent to the host of the ``Location``; here every request is sent with
  ``allow_redirects=False``, so the redirect reaches botocore as a response;
- botocore's S3 region redirector re-sends a request, signed, to wherever an error points, and
  with no region in the error it asks for the bucket's region with HEAD requests that are
  redirected in turn (about a hundred of them, then a ``RecursionError``); every call is marked
  as redirected already, which makes it stand aside.

The redirect then becomes an error (``s3errors.translate``) that suggests ``--region`` when the
store names the bucket's region.

Two per-request costs of botocore are cut where the result is the same: timestamps
(``Last-Modified``, a listing's ``LastModified``) are parsed by the standard library when they
have one of S3's two forms, where botocore's ``dateutil`` parser cost more than signing; and the
user agent string is built once per operation instead of on every request. An ``http://``
endpoint gets no TLS context it would never use (``_tls_only_where_used``).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from pipper.credentials import Credentials

__all__ = ["ClientSettings", "open_client"]


@dataclass(frozen=True)
class ClientSettings:
    credentials: Credentials | None
    endpoint_url: str | None
    region: str | None
    pool: int
    attempts: int
    read_timeout: float
    connect_timeout: float
    data_cache: Path | None = None
    """Where botocore's parsed data files are kept between runs (``botodata``)."""


async def open_client(stack: AsyncExitStack, settings: ClientSettings) -> S3Client:
    """The client, closed with ``stack``; a missing profile or a broken AWS config raises here.
    Its imports and itself live as long as the run: the collector leaves them out
    (``collector.long_lived``)."""
    from pipper.collector import long_lived

    with long_lived():
        return await _open_client(stack, settings)


async def _open_client(stack: AsyncExitStack, settings: ClientSettings) -> S3Client:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    from pipper.storage.botodata import data_loader

    # aiobotocore's own session, as ``aioboto3.Session`` makes it (profile, then the keys given),
    # without boto3: its import and the resource handlers it registers on every client cost a
    # run about 50 ms, for methods (upload_file, resources) pipper never calls. Its data loader
    # is botocore's, minus two costs (``botodata``), registered before anything loads data.
    creds = settings.credentials
    session = get_session()
    session.register_component(
        "data_loader", data_loader(session.get_config_variable("data_path"), settings.data_cache)
    )
    if creds is not None and creds.profile is not None:
        session.set_config_variable("profile", creds.profile)
    if creds is not None and (
        creds.access_key_id or creds.secret_access_key or creds.session_token
    ):
        session.set_credentials(creds.access_key_id, creds.secret_access_key, creds.session_token)
    config = AioConfig(
        http_session_cls=_no_redirect_session_class(),
        max_pool_connections=settings.pool,
        retries={"mode": "standard", "total_max_attempts": settings.attempts},
        read_timeout=settings.read_timeout,
        connect_timeout=settings.connect_timeout,
        signature_version="s3v4",
        # Every bundle is checked against its own sha256, and botocore's CRC checks and
        # parameter validation cost CPU on every request: on 2 cores, requests are the budget.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        parameter_validation=False,
    )
    factory = session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=fast_timestamp)
    client: S3Client = await stack.enter_async_context(
        session.create_client(
            "s3", endpoint_url=settings.endpoint_url, region_name=settings.region, config=config
        )
    )
    client.meta.events.register("before-call.s3", _no_region_redirects)
    _cache_user_agent(client)
    _tls_only_where_used(client)
    return client


def fast_timestamp(value: str) -> datetime:
    """An S3 timestamp: ISO 8601 in listings, RFC 7231 in headers; anything else as botocore
    reads it (epoch seconds, odd spellings)."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        pass
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        from botocore.utils import parse_timestamp

        found: datetime = parse_timestamp(value)
        return found


def _cache_user_agent(client: Any) -> None:
    """Build the User-Agent header once per operation: botocore rebuilds it on every request."""
    creator = getattr(client, "_user_agent_creator", None)
    if creator is None:  # another botocore: leave it as it is
        return
    event = "request-created.s3"
    built: dict[str, str] = {}

    def cached(operation_name: str, request: Any, **_: Any) -> None:
        agent = built.get(operation_name)
        if agent is None:
            agent = built[operation_name] = creator.to_string()
        if request.headers.get("User-Agent"):
            request.headers.replace_header("User-Agent", agent)

    client.meta.events.unregister(event, creator.rebuild_and_replace_user_agent_handler)
    client.meta.events.register_last(event, cached)


def _no_region_redirects(context: dict[str, Any], **_: Any) -> None:
    """Mark the call as redirected already, so botocore's region redirector stands aside."""
    context.setdefault("s3_redirect", {})["redirected"] = True


def _no_redirect_session_class() -> type[Any]:
    """aiobotocore's HTTP session, with aiohttp's redirect following turned off.

    Once told its endpoint is ``http://`` (``_tls_only_where_used``), a connector made for a
    request sent without a proxy gets no TLS context of its own: aiobotocore builds one for
    every connector and loads the CA bundle into it (25-32 ms of CPU, 7-9% of a warm
    run), for a store that is never spoken to over TLS. Should a request go to an ``https://``
    URL all the same, aiohttp verifies it against the system's CAs (``ssl=True``); with
    ``verify`` off, it is not verified, as before.
    """
    from aiobotocore.httpsession import AIOHTTPSession

    class NoRedirectSession(AIOHTTPSession):  # type: ignore[misc]
        plain_http = False

        async def _get_session(self, proxy_url: str | None) -> Any:
            return _NoRedirects(await super()._get_session(proxy_url))

        def _create_connector(self, proxy_url: str | None) -> Any:
            if not self.plain_http or proxy_url is not None:
                return super()._create_connector(proxy_url)
            import aiohttp

            return aiohttp.TCPConnector(
                limit=self._max_pool_connections, ssl=bool(self._verify), **self._connector_args
            )

    return NoRedirectSession


def _tls_only_where_used(client: Any) -> None:
    """Tell the client's HTTP session whether its endpoint, as botocore resolved it (from
    ``--endpoint-url``, the environment or the AWS config), is plain ``http://``."""
    session: Any = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if hasattr(session, "plain_http"):
        session.plain_http = client.meta.endpoint_url.lower().startswith("http://")


class _NoRedirects:
    """An aiohttp session whose every request is sent with ``allow_redirects=False``."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.request(*args, allow_redirects=False, **kwargs)
