"""botocore's and aiohttp's failures as pipper errors: one line each, never a credential.

Every failure of the S3 store passes through ``translate``, so a user never sees "unexpected
ProfileNotFound" or a botocore message that quotes a request. The cases users meet get a line
that says what to do: a profile that does not exist, an AWS config file that does not parse, a
bucket in another region (``--region``), a redirect (never followed), a clock too far off for
SigV4, credentials refused. ``stream_errors`` and ``server_answered`` tell the retry logic in
``s3.py`` whether a failure was the connection's or the store's answer.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from pipper.errors import (
    AccessDeniedError,
    ConfigError,
    IntegrityError,
    NetworkError,
    NotFoundError,
    PipperError,
    VersionExistsError,
)
from pipper.keys import redact_url
from pipper.storage.base import FolderKeyUnsupported, ObjectInfo, WrongEndpoint

__all__ = [
    "S3Place",
    "content_type_of",
    "pause_between_rounds",
    "retryable",
    "server_answered",
    "stream_errors",
    "translate",
    "wrong_write",
]

log = logging.getLogger("pipper.storage.s3")

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
}
_REDIRECT_CODES = {"PermanentRedirect", "TemporaryRedirect", "Redirect", "301", "302", "307"}


@dataclass(frozen=True)
class S3Place:
    """Where requests go, for messages: the bucket, its description and the client's region."""

    bucket: str
    where: str
    region: str | None = None


def stream_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the connection failed", whichever layer raised them."""
    import aiohttp
    from botocore.exceptions import (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    return (
        ResponseStreamingError,
        IncompleteReadError,
        ReadTimeoutError,
        ConnectionClosedError,
        aiohttp.ClientError,
        TimeoutError,
        OSError,
    )


def translate(exc: BaseException, what: str, place: S3Place) -> PipperError:
    """Map a botocore/aiohttp failure to a ``PipperError``; messages never hold secrets."""
    from botocore.exceptions import (
        ClientError,
        ConfigParseError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    log.debug("%s failed: %s: %s", what, type(exc).__name__, " ".join(str(exc).split()))
    if isinstance(exc, PipperError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AccessDeniedError(
            "no AWS credentials found: pass -c KEY SECRET TOKEN or -p PROFILE, "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, ProfileNotFound):
        profile = exc.kwargs.get("profile", "")
        return ConfigError(
            f"no AWS profile named {profile!r} in the AWS config or credentials file "
            "(see 'aws configure list-profiles')"
        )
    if isinstance(exc, ConfigParseError):
        return ConfigError(f"cannot parse the AWS config file {exc.kwargs.get('path', '')}")
    if isinstance(exc, ClientError):
        return _client_error(exc.response, what, place)
    if isinstance(exc, EndpointConnectionError):
        return NetworkError(f"cannot reach the S3 endpoint of {place.where}")
    if isinstance(exc, stream_errors()):
        return NetworkError(
            f"connection to {place.where} failed during {what}: {type(exc).__name__}"
        )
    if isinstance(exc, ValueError) and "endpoint" in str(exc).lower():
        return NetworkError(f"invalid endpoint URL for {place.where}")
    return PipperError(f"S3 request failed for {what}: {type(exc).__name__}")


def _client_error(response: Any, what: str, place: S3Place) -> PipperError:
    """An answer the store gave: an S3 error code, or an HTTP status without one."""
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    metadata = response.get("ResponseMetadata", {})
    status = int(metadata.get("HTTPStatusCode") or 0)
    headers = metadata.get("HTTPHeaders", {})
    where = place.where
    region = headers.get("x-amz-bucket-region") or error.get("Region")
    wrong_region = region and region != place.region
    if code in _REDIRECT_CODES or 300 <= status < 400:
        if wrong_region:
            return _in_region(place, region)
        location = redact_url(headers.get("location", ""))
        return WrongEndpoint(
            f"{where} answered {what} with a redirect (HTTP {status}"
            + (f" to {location}" if location else "")
            + "), and pipper never follows one (it would carry the credentials): "
            "check --endpoint-url and --region"
        )
    if code == "AuthorizationHeaderMalformed" and wrong_region:
        return _in_region(place, region)
    if code == "RequestTimeTooSkewed":
        return AccessDeniedError(
            f"{where} refused the request because this machine's clock is more than 15 minutes "
            "off (RequestTimeTooSkewed): set the system clock right"
        )
    if code == "NoSuchBucket":
        return NotFoundError(f"no such bucket: {place.bucket} ({where})")
    if code in ("NoSuchKey", "404", "NotFound"):
        return NotFoundError(f"not found: {what} in {where}")
    if code in _CREDENTIAL_CODES or code == "AuthorizationHeaderMalformed":
        return AccessDeniedError(f"the credentials were refused by {where} ({code})")
    if code in ("AccessDenied", "403", "AllAccessDisabled") or status == 403:
        return AccessDeniedError(f"access denied: {what} in {where}")
    if code in ("PreconditionFailed", "412") or status == 412:
        return VersionExistsError(f"{what} already exists in {where}")
    if code == "ConditionalRequestConflict":  # AWS: another conditional write of it, at once
        return VersionExistsError(f"{what} is being written by someone else in {where}")
    if code in ("BadDigest", "InvalidDigest"):
        return IntegrityError(
            f"{where} received other bytes for {what} than the ones that were checked "
            f"({code}): the file changed while it was read; nothing was stored"
        )
    if status >= 500:
        return NetworkError(f"{where} kept failing ({code or status}) for {what}")
    return PipperError(f"S3 error {code or status} for {what} in {where}")


def _in_region(place: S3Place, region: str) -> ConfigError:
    return ConfigError(
        f"the bucket {place.bucket} is in the region {region}, not "
        f"{place.region or 'the default one'}: pass --region {region}"
    )


def server_answered(exc: BaseException) -> bool:
    """True when the store sent a 5xx response, rather than the connection failing."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status is not None and int(status) >= 500


def retryable(error: BaseException, exc: BaseException, *, write: bool) -> bool:
    """A round may be repeated for a network failure, never for a wrong endpoint; a write
    only when the store answered 5xx (it stored nothing then)."""
    if not isinstance(error, NetworkError) or isinstance(error, WrongEndpoint):
        return False
    return not write or server_answered(exc)


def content_type_of(page: Mapping[str, Any]) -> str:
    headers = page.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return str(headers.get("content-type") or "no content type")


async def pause_between_rounds(round_: int, base: float) -> None:
    """A short, jittered wait between rounds, so a throttled store sees fewer requests."""
    await anyio.sleep(min(8 * base, base * 2 ** (round_ - 1)) * random.uniform(0.5, 1.0))


def wrong_write(
    where: str,
    key: str,
    size: int,
    metadata: Mapping[str, str],
    etag: str,
    info: ObjectInfo,
    stored: Mapping[str, str],
) -> WrongEndpoint | None:
    """What is wrong with a write the store accepted, by the HEAD made after it (``info``,
    ``stored``: its size and metadata); None when the store holds it.

    An object another writer put there meanwhile (another ETag: an index page updated by a
    second publisher, a version replaced with --force) shows the store holds what it is sent;
    only our own can be measured.
    """
    if info.etag and info.etag != etag:
        return None
    if key.endswith("/") and size and not info.size:
        return FolderKeyUnsupported(
            f"{where} keeps {key} as an empty folder, not as the object it was sent: it cannot "
            "hold a key that ends in '/' (SeaweedFS does this; AWS S3 does not)"
        )
    expected = metadata.get("sha256")
    if info.size != size or (expected and stored.get("sha256") != expected):
        return WrongEndpoint(
            f"{where} accepted the upload of {key} but does not hold it (a HEAD finds "
            f"{info.size} of {size} bytes, sha256 {stored.get('sha256', 'missing')[:12]}): "
            "check --endpoint-url"
        )
    return None
