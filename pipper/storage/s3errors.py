"""What an S3 failure means to a user: botocore's and aiohttp's errors as ``PipperError``s.

Every message names the repository (``where``) and what was being done, and never contains a
credential. ``stream_errors`` and ``server_answered`` tell the retry logic in ``s3.py`` whether a
failure was the connection's or the store's answer.
"""

from __future__ import annotations

import logging

from pipper.errors import (
    AccessDeniedError,
    NetworkError,
    NotFoundError,
    PipperError,
    VersionExistsError,
)

__all__ = ["server_answered", "stream_errors", "translate"]

log = logging.getLogger("pipper.storage.s3")

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AuthorizationHeaderMalformed",
}


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


def translate(exc: BaseException, what: str, *, where: str, bucket: str) -> PipperError:
    """Map a botocore/aiohttp failure to a ``PipperError``; messages never hold secrets."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    log.debug("%s failed: %s: %s", what, type(exc).__name__, " ".join(str(exc).split()))
    if isinstance(exc, PipperError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AccessDeniedError(
            "no AWS credentials found: pass -c KEY SECRET TOKEN or -p PROFILE, "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return NotFoundError(f"no such bucket: {bucket} ({where})")
        if code in ("NoSuchKey", "404", "NotFound"):
            return NotFoundError(f"not found: {what} in {where}")
        if code in _CREDENTIAL_CODES:
            return AccessDeniedError(f"the credentials were refused by {where} ({code})")
        if code in ("AccessDenied", "403", "AllAccessDisabled") or status == 403:
            return AccessDeniedError(f"access denied: {what} in {where}")
        if code in ("PreconditionFailed", "412") or status == 412:
            return VersionExistsError(f"{what} already exists in {where}")
        if status is not None and int(status) >= 500:
            return NetworkError(f"{where} kept failing ({code or status}) for {what}")
        return PipperError(f"S3 error {code or status} for {what} in {where}")
    if isinstance(exc, EndpointConnectionError):
        return NetworkError(f"cannot reach the S3 endpoint of {where}")
    if isinstance(exc, stream_errors()):
        return NetworkError(f"connection to {where} failed during {what}: {type(exc).__name__}")
    if isinstance(exc, ValueError) and "endpoint" in str(exc).lower():
        return NetworkError(f"invalid endpoint URL for {where}")
    return PipperError(f"S3 request failed for {what}: {type(exc).__name__}")


def server_answered(exc: BaseException) -> bool:
    """True when the store sent a 5xx response, rather than the connection failing."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status is not None and int(status) >= 500
