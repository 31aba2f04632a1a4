"""Leaner GetObject and ListObjectsV2 that are still botocore's: its URL, credentials, signer,
sender, parser and retries.

A call through ``client.get_object`` or ``client.list_objects_v2`` emits about fifteen events,
builds and serializes a request dict and resolves the endpoint ruleset, which misses botocore's
cache for every new key or prefix; that is most of the CPU a cold download spends in aiobotocore,
and a crowded bucket (listed package by package) pays it once more per package. ``LeanS3``
answers the same two calls (the same keyword arguments, the same response dict, the same
exceptions) with only the parts they need, each taken from the client:

- the URL: the client presigns one probe key once; what precedes the key in that URL is the
  object URL of the bucket as the client resolves it (endpoint, path or virtual-hosted style,
  FIPS or dual-stack), and its credential scope names the signing region and service. Keys are
  quoted as botocore quotes them (``safe="/~"``), query values as its serializer does;
- the credentials: the client's own credentials object, asked on every attempt
  (``await get_frozen_credentials()``), so refreshable credentials are refreshed as they are for
  any other request; the session token is signed and sent when there is one;
- the signature: botocore's ``S3SigV4Auth`` with the client's configuration, so the payload hash
  and the signed headers are botocore's;
- the connection: the client's own HTTP session (``client._endpoint.http_session.send``), so the
  pool, timeouts, TLS settings, proxies and the rule that no redirect is ever followed
  (``s3client``) are the client's, and a failed connection is the botocore exception it would be;
- the answer: a listing, and any error, is parsed by the client's response parser (an error is
  raised as the client's modeled exception, so ``s3errors.translate`` says the same line for 404,
  403, 412, a redirect and the region it names); a listing asks for ``encoding-type=url`` and
  is decoded by the client's own after-call handler, as botocore does for every listing;
- the retries: a failed attempt is put to the client's ``needs-retry`` handlers (its standard
  retry policy, backoff and retry quota, and pipper's own notice of a silent store) exactly as
  botocore's endpoint does, and a success to its ``after-call`` handlers, which refill the quota.

What is left out is what these two calls never need: parameter validation and serialization
(the arguments pipper passes are known), checksum validation (off in ``s3client``; bundles are
checked by sha256), history recording, the SDK's unsigned ``amz-sdk-invocation-id`` and
``amz-sdk-request`` headers, and the parsing of GET headers nobody reads. A client this does not
fit (no credentials, another signature version, an S3 Express bucket, a probe URL of another
shape), or a call with arguments this does not know, is answered by the client itself.
``PIPPER_S3_LEAN=0`` turns the lean path off.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["LeanS3"]

log = logging.getLogger(__name__)

GET = "GetObject"
LIST = "ListObjectsV2"
_PROBE = "pipper-lean-get-probe"
_META = "x-amz-meta-"
_GET_ARGS = {"Bucket", "Key", "Range", "IfMatch"}
_LIST_QUERY = {  # ListObjectsV2's arguments as query parameters (its model's locationName)
    "Prefix": "prefix",
    "Delimiter": "delimiter",
    "MaxKeys": "max-keys",
    "ContinuationToken": "continuation-token",
    "StartAfter": "start-after",
}


@dataclass(frozen=True)
class _Operation:
    """One operation's model and the names of its retry and after-call events."""

    model: Any
    needs_retry: str
    after_call: str


@dataclass(frozen=True)
class _Route:
    """What every request to one bucket shares, learned from the client once."""

    base_url: str
    """The bucket's object URL, ending in ``/``: a key follows it."""
    list_url: str
    """The bucket's own URL, as botocore addresses a listing (``/bucket`` or ``/``)."""
    region: str
    service: str
    credentials: Any
    user_agent: str | None
    client: Any
    endpoint: Any
    events: Any
    operations: Mapping[str, _Operation]


Answer = Callable[[_Route, str, Any], Awaitable[Mapping[str, Any]]]
"""What a success says: ``answer(route, operation name, HTTP response)``."""


class LeanS3:
    """``get_object`` and ``list_objects_v2`` for one bucket of one client; ``on_attempt`` is
    called per HTTP attempt.

    ``client`` gives the open client (the store opens it after this is made); with ``on`` false
    (``PIPPER_S3_LEAN=0``) every call is the client's own.
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
        """Whether requests take the lean path (``None`` until the first one)."""
        return self._route is not None if self._learned else None

    async def get_object(self, **kwargs: Any) -> Mapping[str, Any]:
        """What ``client.get_object(**kwargs)`` returns (for ``Bucket``, ``Key``, ``Range``,
        ``IfMatch``), or raises what it raises."""
        route = await self._route_for(kwargs, _GET_ARGS)
        if route is None:
            return await self._get_client().get_object(**kwargs)
        headers = {"User-Agent": route.user_agent} if route.user_agent else {}
        if "Range" in kwargs:
            headers["Range"] = kwargs["Range"]
        if "IfMatch" in kwargs:
            headers["If-Match"] = kwargs["IfMatch"]
        url = route.base_url + quote(kwargs["Key"], safe="/~")
        request_dict: dict[str, Any] = {"context": {"s3_redirect": {"redirected": True}}}
        return await self._send(route, GET, url, headers, request_dict, self._answer_get)

    async def list_objects_v2(self, **kwargs: Any) -> Mapping[str, Any]:
        """What ``client.list_objects_v2(**kwargs)`` returns (for ``Bucket`` and the arguments
        in ``_LIST_QUERY``), keys decoded, or raises what it raises."""
        from botocore.utils import percent_encode_sequence

        route = await self._route_for(kwargs, {"Bucket", *_LIST_QUERY})
        if route is None:
            return await self._get_client().list_objects_v2(**kwargs)
        query = {"list-type": "2", "encoding-type": "url"}
        query.update((_LIST_QUERY[k], str(v)) for k, v in kwargs.items() if k in _LIST_QUERY)
        url = f"{route.list_url}?{percent_encode_sequence(query)}"
        headers = {"User-Agent": route.user_agent} if route.user_agent else {}
        # As botocore's set_list_objects_encoding_type_url marks it: the after-call decodes.
        context = {"s3_redirect": {"redirected": True}, "encoding_type_auto_set": True}
        return await self._send(route, LIST, url, headers, {"context": context}, self._parsed)

    async def _route_for(self, kwargs: Mapping[str, Any], known: set[str]) -> _Route | None:
        """The route, or None when this call is the client's own to answer."""
        route = self._route if self._learned else await self._learn()
        if route is None or kwargs.get("Bucket") != self._bucket or set(kwargs) - known:
            return None
        return route

    async def _learn(self) -> _Route | None:
        async with self._lock:
            if not self._learned:
                try:
                    self._route = await self._probe()
                except Exception as exc:  # the botocore path raises (or copes) on its own
                    log.debug("S3 through botocore: the probe failed (%s)", type(exc).__name__)
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
        meta = client.meta
        service_id = meta.service_model.service_id.hyphenize()
        operations = {
            name: _Operation(
                model=meta.service_model.operation_model(name),
                needs_retry=f"needs-retry.{service_id}.{name}",
                after_call=f"after-call.{service_id}.{name}",
            )
            for name in (GET, LIST)
        }
        origin = f"{parts.scheme}://{parts.netloc}"
        return _Route(
            base_url=origin + path,
            list_url=origin + (path[:-1] or "/"),
            region=scope[-3],
            service=scope[-2],
            credentials=credentials,
            user_agent=creator.to_string() if creator is not None else None,
            client=client,
            endpoint=endpoint,
            events=meta.events,
            operations=operations,
        )

    async def _send(
        self,
        route: _Route,
        name: str,
        url: str,
        headers: dict[str, str],
        request_dict: dict[str, Any],
        answer: Answer,
    ) -> Mapping[str, Any]:
        """Attempts until one succeeds or the client's retry handlers say stop, as botocore's
        endpoint makes them; the success is ``answer``ed, then put to the after-call handlers."""
        from botocore.hooks import first_non_none_response

        operation = route.operations[name]
        attempts = 1
        while True:
            prepared = await self._signed(route, operation, url, headers)
            self._on_attempt()
            outcome: tuple[Any, dict[str, Any]] | None = None
            caught: Exception | None = None
            try:  # what botocore's endpoint puts to needs-retry as "caught_exception"
                response = await route.endpoint.http_session.send(prepared)
            except Exception as exc:
                caught = exc
            else:
                if response.status_code < 300:
                    parsed = await answer(route, name, response)
                    await route.events.emit(
                        operation.after_call,
                        http_response=response,
                        parsed=parsed,
                        model=operation.model,
                        context=request_dict["context"],
                    )
                    return parsed
                outcome = (response, await self._parsed(route, name, response))
            delays = await route.events.emit(
                operation.needs_retry,
                response=outcome,
                endpoint=route.endpoint,
                operation=operation.model,
                attempts=attempts,
                caught_exception=caught,
                request_dict=request_dict,
            )
            delay = first_non_none_response(delays)
            if delay is None:
                if outcome is None:
                    assert caught is not None
                    raise caught
                raise self._error(route, name, outcome[1])
            await anyio.sleep(delay)
            attempts += 1

    async def _signed(
        self, route: _Route, operation: _Operation, url: str, headers: Mapping[str, str]
    ) -> Any:
        """One attempt's request, signed now with the credentials as they are now. A listing's
        body is read by the session's ``send`` (as botocore has it read: a body cut short is
        the botocore error its retry handlers retry); a GET's streams to the caller."""
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSPreparedRequest, AWSRequest

        frozen = await route.credentials.get_frozen_credentials()
        request = AWSRequest(method="GET", url=url, headers=dict(headers))
        request.context["client_config"] = route.client.meta.config
        S3SigV4Auth(frozen, route.service, route.region).add_auth(request)
        stream = operation.model.has_streaming_output
        return AWSPreparedRequest("GET", url, request.headers, None, stream)

    async def _answer_get(self, route: _Route, name: str, response: Any) -> Mapping[str, Any]:
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
        return parsed

    async def _parsed(self, route: _Route, name: str, response: Any) -> dict[str, Any]:
        """An answer (a listing, or any error) parsed by the client's own parser, as botocore's
        endpoint parses it."""
        model = route.operations[name].model
        body = await response.content
        factory = route.endpoint._response_parser_factory
        parser = factory.create_parser(model.service_model.resolved_protocol)
        response_dict = {
            "headers": response.headers,
            "status_code": response.status_code,
            "body": body,
            "context": {"operation_name": name},
        }
        parsed: dict[str, Any] = await parser.parse(response_dict, model.output_shape)
        return parsed

    def _error(self, route: _Route, name: str, parsed: dict[str, Any]) -> Exception:
        """The client's modeled exception for an error answer (``NoSuchKey``, ``ClientError``)."""
        code = parsed.get("Error", {}).get("Code")
        error_class = route.client.exceptions.from_code(code)
        return error_class(parsed, name)  # type: ignore[no-any-return]
