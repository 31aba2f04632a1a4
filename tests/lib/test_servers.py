"""The S3 test server behaves like S3 where the suite relies on it, and the fixtures isolate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.lib.isolation import TEST_SETTINGS, PipperHome
from tests.lib.s3servers import S3Server


def test_server_enforces_signatures(s3_server: S3Server, bucket: str) -> None:
    if s3_server.kind == "moto":
        pytest.skip("moto accepts any credentials, so signatures cannot be checked against it")
    bad = s3_server.client(secret_key="not-the-secret", max_attempts=1)
    with pytest.raises(ClientError) as info:
        bad.list_objects_v2(Bucket=bucket)
    assert info.value.response["Error"]["Code"] in {"SignatureDoesNotMatch", "InvalidAccessKeyId"}


def test_server_refuses_missing_bucket_on_put(s3_server: S3Server) -> None:
    """Like real S3 (and unlike weed's default), a PUT does not create its bucket."""
    client = s3_server.client(max_attempts=1)
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket="t-does-not-exist", Key="k", Body=b"x")
    assert info.value.response["Error"]["Code"] == "NoSuchBucket"


def test_pipper_home_is_isolated(pipper_home: PipperHome, tmp_path: Path) -> None:
    for name, path in (
        ("PIPPER_HOME", pipper_home.home),
        ("PIPPER_CACHE_DIR", pipper_home.cache_dir),
        ("PIPPER_DATA_DIR", pipper_home.data_dir),
    ):
        assert os.environ[name] == str(path)
        assert path.is_dir() and path.is_relative_to(tmp_path)
    for name, value in TEST_SETTINGS.items():
        assert os.environ[name] == value


def test_s3_env_points_at_server(s3_env: dict[str, str], s3_server: S3Server) -> None:
    import boto3

    assert os.environ["AWS_ENDPOINT_URL"] == s3_server.endpoint_url
    assert "AWS_PROFILE" not in os.environ
    assert boto3.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
