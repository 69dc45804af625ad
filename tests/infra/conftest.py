"""Fixtures of the infrastructure tests: a real S3 server for the S3 blob store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server, start_s3_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket on the session's S3 server."""
    bucket = f"cytasks-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_store(s3_server: S3Server, s3_bucket: str):
    from storage import S3BlobStore

    return S3BlobStore(
        s3_bucket,
        endpoint_url=s3_server.endpoint_url,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        region=REGION,
        prefix="pfx",
    )
