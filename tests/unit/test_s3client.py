"""The parts of the S3 client pipper sets itself: timestamps parsed without dateutil."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.utils import parse_timestamp

from pipper.storage.s3client import fast_timestamp


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T23:49:22.000Z",  # a listing's LastModified
        "2026-12-01T23:49:22Z",
        "Tue, 01 Dec 2026 23:49:22 GMT",  # a Last-Modified header
        "1764632962",  # epoch seconds: botocore's own parser
    ],
)
def test_fast_timestamps_equal_botocores(text: str) -> None:
    fast, slow = fast_timestamp(text), parse_timestamp(text)
    assert fast == slow
    assert fast.utcoffset() is not None  # aware, so comparisons never mix naive and aware


def test_fast_timestamp_reads_both_s3_forms_as_utc() -> None:
    expected = datetime(2026, 12, 1, 23, 49, 22, tzinfo=UTC)
    assert fast_timestamp("2026-12-01T23:49:22.000Z") == expected
    assert fast_timestamp("Tue, 01 Dec 2026 23:49:22 GMT") == expected
