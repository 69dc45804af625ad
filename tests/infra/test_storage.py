from __future__ import annotations

import os
import uuid

import pytest

from persistence.ids import new_run_id
from storage import (
    BlobNotFound,
    FileBlobStore,
    InvalidBlobRef,
    RoutingBlobStore,
    S3BlobStore,
    ValueNotJSON,
    load_value,
    make_blob_store,
    run_value_key,
    store_value,
)


@pytest.fixture
def blob_store(tmp_path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


async def test_file_blob_round_trip(blob_store: FileBlobStore) -> None:
    small, large = b"hello", os.urandom(3 * 1024 * 1024)
    small_ref = await blob_store.put("a/b/small.bin", small)
    large_ref = await blob_store.put("a/b/large.bin", large)
    assert small_ref == "file:a/b/small.bin" == blob_store.ref_for("a/b/small.bin")
    assert await blob_store.get(small_ref) == small
    assert await blob_store.get(large_ref) == large
    assert await blob_store.exists(large_ref)
    await blob_store.put("a/b/small.bin", b"replaced")
    assert await blob_store.get(small_ref) == b"replaced"
    await blob_store.delete(large_ref)
    await blob_store.delete(large_ref)
    assert not await blob_store.exists(large_ref)
    with pytest.raises(BlobNotFound):
        await blob_store.get(large_ref)
    assert not [p for p in blob_store.root.rglob(".tmp-*")]


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", "", "a//b", "a\\b"])
async def test_file_blob_rejects_unsafe_keys(blob_store: FileBlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobRef):
        await blob_store.put(key, b"x")
    with pytest.raises(InvalidBlobRef):
        await blob_store.get("file:" + key)


async def test_store_value_inline_below_threshold(blob_store: FileBlobStore) -> None:
    stored = await store_value({"a": [1, 2, 3]}, 1024, blob_store, "runs/x/output.json")
    assert stored.storage == "inline" and stored.ref is None and stored.inline == {"a": [1, 2, 3]}
    assert await load_value(stored.storage, stored.inline, stored.ref, blob_store) == {"a": [1, 2, 3]}
    none_value = await store_value(None, 1024, blob_store, "runs/x/none.json")
    assert none_value.storage == "inline"
    assert await load_value("inline", None, None, blob_store) is None
    assert await load_value(None, None, None, blob_store) is None


async def test_store_value_blob_at_threshold(blob_store: FileBlobStore) -> None:
    run_id = new_run_id()
    value = {"text": "é" * 600_000}
    stored = await store_value(value, 256 * 1024, blob_store, run_value_key(run_id, "output"))
    assert stored.storage == "file" and stored.inline is None
    assert stored.ref.startswith("file:runs/") and str(run_id) in stored.ref
    assert stored.size > 256 * 1024
    assert await load_value(stored.storage, None, stored.ref, blob_store) == value
    exact = await store_value("x" * 8, 10, blob_store, "runs/x/exact.json")
    assert exact.storage == "file"
    with pytest.raises(ValueNotJSON):
        await store_value({1, 2}, 10, blob_store, "runs/x/bad.json")
    with pytest.raises(ValueNotJSON):
        await store_value(float("nan"), 10, blob_store, "runs/x/nan.json")


async def test_routing_store_reads_by_scheme(blob_store: FileBlobStore) -> None:
    s3 = S3BlobStore("bucket", prefix="p")
    routing = RoutingBlobStore(s3, blob_store)
    ref = await blob_store.put("k.json", b"1")
    assert await routing.get(ref) == b"1"
    assert routing.kind == "s3" and routing.ref_for("k.json") == "s3://bucket/p/k.json"
    with pytest.raises(InvalidBlobRef):
        await routing.get("ftp://x")


def test_make_blob_store_from_settings(tmp_path) -> None:
    from settings import Settings

    file_store = make_blob_store(Settings(DATA_DIR=tmp_path))
    assert isinstance(file_store, FileBlobStore) and file_store.root == (tmp_path / "blobs").resolve()
    s3_store = make_blob_store(Settings(BLOB_BACKEND="s3", S3_BUCKET="b", S3_ENDPOINT_URL="http://minio:9000"))
    assert isinstance(s3_store, S3BlobStore) and s3_store.kind == "s3"
    assert s3_store.ref_for(f"runs/{uuid.UUID(int=1)}/in.json").startswith("s3://b/runs/")
