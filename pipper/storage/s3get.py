"""A leaner GetObject that is still botocore's: its URL, credentials, signer, sender and retries.

A bundle GET through ``client.get_object`` emits about fifteen events, builds and serializes a
request dict, resolves the endpoint ruleset (which misses botocore's cache for every new key) and
parses a response of forty header fields, and that is most of the CPU a cold download spends in
aiobotocore. ``LeanGet.get_object`` answers the same call (the same keyword arguments, the same
response dict, the same exceptions) with only the parts a GET needs, each taken from the client:

- the URL: the client presigns one probe key once; what precedes the key in that URL is the
  object URL of the bucket as the client resolves it (endpoint, path or virtual-hosted style,
  FIPS or dual-stack), and its credential scope names the signing region and service. Keys are
  quoted as botocore quotes them (``safe="/~"``);
- the credentials: the client's own credentials object, asked on every attempt
  (``await get_frozen_credentials()``), so refreshable credentials are refreshed as they are for
  any other request; the session token is signed and sent when there is one;
- the signature: botocore's ``S3SigV4Auth`` with the client's configuration, so the payload hash
  and the signed headers are botocore's;
- the connection: the client's own HTTP session (``client._endpoint.http_session.send``), so the
  pool, timeouts, TLS settings, proxies and the rule that no redirect is ever followed
  (``s3client``) are the client's, and a failed connection is the botocore exception it would be;
- the answer: an error is parsed by the client's response parser and raised as the client's
  modeled exception, so ``s3errors.translate`` says the same line (404, 403, 412, a redirect and
  the region it names);
- the retries: a failed attempt is put to the client's ``needs-retry`` handlers (its standard
  retry policy, backoff and retry quota, and pipper's own notice of a silent store) exactly as
  botocore's endpoint does, and a success to its ``after-call`` handlers, which refill the quota.

What is left out is what a GET of a bundle never needs: parameter serialization, checksum
validation (off in ``s3client``; bundles are checked by sha256), history recording, the SDK's
unsigned ``amz-sdk-invocation-id``/``amz-sdk-request`` headers and the parsing of headers nobody
reads. A client this does not fit (no credentials, another signature version,
an S3 Express bucket, a probe URL of another shape) is answered by ``client.get_object`` itself.
``PIPPER_S3_LEAN_GET=0`` turns the lean path off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["LeanGet"]

log = logging.getLogger(__name__)

OPERATION = "GetObject"
_PROBE = "pipper-lean-get-probe"
_META = "x-amz-meta-"


@dataclass(frozen=True)
class _Route:
    """What every GET of one bucket shares, learned from the client once."""

    base_url: str
    region: str
    service: str
    credentials: Any
    user_agent: str | None
    client: Any
    endpoint: Any
    operation: Any
    events: Any
    needs_retry: str
    after_call: str


class LeanGet:
    """``get_object`` for one bucket of one client; ``on_attempt`` is called per HTTP attempt.

    ``client`` gives the open client (the store opens it after this is made); with ``on`` false
    (``PIPPER_S3_LEAN_GET=0``) every call is ``client().get_object``.
    """

    def __init__(
        self,
        client: Callable[[], S3Client],
        bucket: str,
        on_attempt: Callable[[], object],
        *,
        on: bool = True,
    ) -> None:
        self._get_client = client
        self._bucket = bucket
        self._on_attempt = on_attempt
        self._route: _Route | None = None
        self._learned = not on
        self._lock = anyio.Lock()

    @property
    def lean(self) -> bool | None:
        """Whether GETs take the lean path (``None`` until the first one)."""
        return self._route is not None if self._learned else None

    async def get_object(self, **kwargs: Any) -> Mapping[str, Any]:
        """What ``client.get_object(**kwargs)`` returns (for ``Bucket``, ``Key``, ``Range``,
        ``IfMatch``), or raises what it raises."""
        route = self._route if self._learned else await self._learn()
        if route is None or kwargs.get("Bucket") != self._bucket or set(kwargs) - _KNOWN:
            return await self._get_client().get_object(**kwargs)
        headers = {"User-Agent": route.user_agent} if route.user_agent else {}
        if "Range" in kwargs:
            headers["Range"] = kwargs["Range"]
        if "IfMatch" in kwargs:
            headers["If-Match"] = kwargs["IfMatch"]
        url = route.base_url + quote(kwargs["Key"], safe="/~")
        return await self._send(route, url, headers)

    async def _learn(self) -> _Route | None:
        async with self._lock:
            if not self._learned:
                try:
                    self._route = await self._probe()
                except Exception as exc:  # the botocore path raises (or copes) on its own
                    log.debug("GETs through botocore: the probe failed (%s)", type(exc).__name__)
                    self._route = None
                self._learned = True
        return self._route

    async def _probe(self) -> _Route | None:
        """The bucket's object URL, signing region and service, from one presigned probe URL."""
        client: Any = self._get_client()
        signer = getattr(client, "_request_signer", None)
        credentials = getattr(signer, "_credentials", None)
        endpoint = getattr(client, "_endpoint", None)
        if (
            endpoint is None
            or credentials is None
            or client.meta.config.signature_version != "s3v4"
            or self._bucket.endswith("--x-s3")
        ):
            return None
        url = await client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": _PROBE}, ExpiresIn=60
        )
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        scope = query.get("X-Amz-Credential", [""])[0].split("/")
        if (
            query.get("X-Amz-Algorithm") != ["AWS4-HMAC-SHA256"]
            or len(scope) < 5
            or not parts.path.endswith("/" + _PROBE)
        ):
            return None
        path = parts.path[: -len(_PROBE)]
        creator = getattr(client, "_user_agent_creator", None)
        agent = creator.to_string() if creator is not None else None
        meta = client.meta
        service_id = meta.service_model.service_id.hyphenize()
        return _Route(
            base_url=f"{parts.scheme}://{parts.netloc}{path}",
            region=scope[-3],
            service=scope[-2],
            credentials=credentials,
            user_agent=agent,
            client=client,
            endpoint=endpoint,
            operation=meta.service_model.operation_model(OPERATION),
            events=meta.events,
            needs_retry=f"needs-retry.{service_id}.{OPERATION}",
            after_call=f"after-call.{service_id}.{OPERATION}",
        )

    async def _send(self, route: _Route, url: str, headers: dict[str, str]) -> Mapping[str, Any]:
        """Attempts until one succeeds or the client's retry handlers say stop, as botocore's
        endpoint makes them."""
        from botocore.hooks import first_non_none_response

        request_dict: dict[str, Any] = {"context": {"s3_redirect": {"redirected": True}}}
        attempts = 1
        while True:
            prepared = await self._signed(route, url, headers)
            self._on_attempt()
            outcome: tuple[Any, dict[str, Any]] | None = None
            caught: Exception | None = None
            try:  # what botocore's endpoint puts to needs-retry as "caught_exception"
                response = await route.endpoint.http_session.send(prepared)
            except Exception as exc:
                caught = exc
            else:
                if response.status_code < 300:
                    return await self._answer(route, response, request_dict)
                outcome = (response, await self._parse_error(route, response))
            delays = await route.events.emit(
                route.needs_retry,
                response=outcome,
                endpoint=route.endpoint,
                operation=route.operation,
                attempts=attempts,
                caught_exception=caught,
                request_dict=request_dict,
            )
            delay = first_non_none_response(delays)
            if delay is None:
                if outcome is None:
                    assert caught is not None
                    raise caught
                raise self._error(route, outcome[1])
            await anyio.sleep(delay)
            attempts += 1

    async def _signed(self, route: _Route, url: str, headers: Mapping[str, str]) -> Any:
        """One attempt's request, signed now with the credentials as they are now."""
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSPreparedRequest, AWSRequest

        frozen = await route.credentials.get_frozen_credentials()
        request = AWSRequest(method="GET", url=url, headers=dict(headers))
        request.context["client_config"] = route.client.meta.config
        S3SigV4Auth(frozen, route.service, route.region).add_auth(request)
        return AWSPreparedRequest("GET", url, request.headers, None, True)

    async def _answer(
        self, route: _Route, response: Any, request_dict: dict[str, Any]
    ) -> Mapping[str, Any]:
        """The fields of botocore's parsed GetObject that ``S3Storage.get`` reads."""
        from aiobotocore.response import StreamingBody

        headers: Mapping[str, str] = response.headers
        length = headers.get("content-length")
        parsed: dict[str, Any] = {
            "ResponseMetadata": {
                "HTTPStatusCode": response.status_code,
                "HTTPHeaders": headers,
            },
            "Metadata": {k[len(_META) :]: v for k, v in headers.items() if k.startswith(_META)},
            "Body": StreamingBody(response.raw, length),
        }
        if length is not None:
            parsed["ContentLength"] = int(length)
        fields = (
            ("ContentRange", "content-range"),
            ("ETag", "etag"),
            ("ContentType", "content-type"),
        )
        for field, header in fields:
            if header in headers:
                parsed[field] = headers[header]
        await route.events.emit(
            route.after_call,
            http_response=response,
            parsed=parsed,
            model=route.operation,
            context=request_dict["context"],
        )
        return parsed

    async def _parse_error(self, route: _Route, response: Any) -> dict[str, Any]:
        """An error answer parsed by the client's own parser, as botocore's endpoint does."""
        body = await response.content
        factory = route.endpoint._response_parser_factory
        parser = factory.create_parser(route.operation.service_model.resolved_protocol)
        response_dict = {
            "headers": response.headers,
            "status_code": response.status_code,
            "body": body,
            "context": {"operation_name": OPERATION},
        }
        parsed: dict[str, Any] = await parser.parse(response_dict, route.operation.output_shape)
        return parsed

    def _error(self, route: _Route, parsed: dict[str, Any]) -> Exception:
        """The client's modeled exception for an error answer (``NoSuchKey``, ``ClientError``)."""
        code = parsed.get("Error", {}).get("Code")
        error_class = route.client.exceptions.from_code(code)
        return error_class(parsed, OPERATION)  # type: ignore[no-any-return]


_KNOWN = {"Bucket", "Key", "Range", "IfMatch"}
