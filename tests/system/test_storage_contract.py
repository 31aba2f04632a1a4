"""The storage contract over a real S3 server (SeaweedFS by default, moto with PIPPER_TEST_S3),
with GETs and listings on the lean path (``storage.s3lean``) and on botocore's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest

from pipper.credentials import Credentials
from pipper.storage.base import Storage
from pipper.storage.s3 import S3Storage
from tests.lib.contract import StorageContract
from tests.lib.s3servers import S3Server, server_kind


class TestS3Storage(StorageContract):
    _client: Any
    _bucket: str
    # SeaweedFS keeps a key ending in "/" as an empty folder; moto (as AWS S3) as an object.
    folder_keys: ClassVar[bool] = server_kind() != "seaweedfs"

    @pytest.fixture(params=[True, False], ids=["lean", "botocore"])
    async def store(
        self, s3_server: S3Server, bucket: str, request: pytest.FixtureRequest
    ) -> AsyncIterator[Storage]:
        self._client, self._bucket = s3_server.client(), bucket
        credentials = Credentials(
            access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key
        )
        async with S3Storage(
            bucket=bucket,
            endpoint_url=s3_server.endpoint_url,
            region=s3_server.region,
            credentials=credentials,
            lean=request.param,
        ) as storage:
            yield storage

    def seed(self, store: Storage, key: str, data: bytes, metadata: Mapping[str, str]) -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data, Metadata=dict(metadata))

    def seed_many(self, store: Storage, objects: Mapping[str, bytes]) -> None:
        with ThreadPoolExecutor(16) as pool:
            writes = [pool.submit(self.seed, store, key, data, {}) for key, data in objects.items()]
            for write in writes:
                write.result()
