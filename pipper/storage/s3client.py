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
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
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


async def open_client(stack: AsyncExitStack, settings: ClientSettings) -> S3Client:
    """The client, closed with ``stack``; a missing profile or a broken AWS config raises here."""
    import aioboto3
    from aiobotocore.config import AioConfig

    creds = settings.credentials
    session = aioboto3.Session(
        aws_access_key_id=creds.access_key_id if creds else None,
        aws_secret_access_key=creds.secret_access_key if creds else None,
        aws_session_token=creds.session_token if creds else None,
        profile_name=creds.profile if creds else None,
    )
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
    client: S3Client = await stack.enter_async_context(
        session.client(
            "s3", endpoint_url=settings.endpoint_url, region_name=settings.region, config=config
        )
    )
    client.meta.events.register("before-call.s3", _no_region_redirects)
    return client


def _no_region_redirects(context: dict[str, Any], **_: Any) -> None:
    """Mark the call as redirected already, so botocore's region redirector stands aside."""
    context.setdefault("s3_redirect", {})["redirected"] = True


def _no_redirect_session_class() -> type[Any]:
    """aiobotocore's HTTP session, with aiohttp's redirect following turned off."""
    from aiobotocore.httpsession import AIOHTTPSession

    class NoRedirectSession(AIOHTTPSession):  # type: ignore[misc]
        async def _get_session(self, proxy_url: str | None) -> Any:
            return _NoRedirects(await super()._get_session(proxy_url))

    return NoRedirectSession


class _NoRedirects:
    """An aiohttp session whose every request is sent with ``allow_redirects=False``."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.request(*args, allow_redirects=False, **kwargs)
