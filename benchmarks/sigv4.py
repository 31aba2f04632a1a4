"""AWS Signature Version 4 for plain S3 requests, in a few lines of ``hmac``.

The benchmarks need S3 requests without botocore's per-request cost: the probe's minimal
client (the floor a client library is measured against), the static-website front of the index
scenario, and the bulk upload that fills a crowded bucket. They all sign here.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Signer:
    """Header signatures for path-style requests; the day's signing key is derived once."""

    def __init__(self, key: str, secret: str, region: str) -> None:
        self.key = key
        self.secret = secret
        self.region = region
        self._signing: dict[str, bytes] = {}

    def _signing_key(self, day: str) -> bytes:
        if day not in self._signing:
            k = hmac.new(f"AWS4{self.secret}".encode(), day.encode(), hashlib.sha256).digest()
            for part in (self.region, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._signing[day] = k
        return self._signing[day]

    def headers(
        self,
        method: str,
        host: str,
        path: str,
        query: str = "",
        payload_sha256: str = EMPTY_SHA256,
    ) -> dict[str, str]:
        """The headers that sign ``method host path?query``; ``path`` and ``query`` already
        URI-encoded and the query's parameters sorted, as SigV4's canonical request wants."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        signed = "host;x-amz-content-sha256;x-amz-date"
        canonical = (
            f"{method}\n{path}\n{query}\nhost:{host}\nx-amz-content-sha256:{payload_sha256}\n"
            f"x-amz-date:{stamp}\n\n{signed}\n{payload_sha256}"
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = (
            f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(self._signing_key(day), to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            "Host": host,
            "x-amz-date": stamp,
            "x-amz-content-sha256": payload_sha256,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={self.key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}",
        }
