"""The S3 blob store, payload offloading and retention, against a local S3 server (wire protocol)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from persistence.ids import created_at_from_run_id, new_run_id
from storage import (
    BlobNotFound,
    FileBlobStore,
    InvalidBlobRef,
    RoutingBlobStore,
    S3BlobStore,
    data_converter,
    load_value,
    make_blob_store,
    run_value_key,
    store_value,
)

from .s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server
from .test_payload_offload import THRESHOLD, LargeValuesWorkflow, _payloads_in, make_large_result


async def test_s3_blob_round_trip(s3_store: S3BlobStore, s3_server: S3Server, s3_bucket: str) -> None:
    small, large = b"hello", os.urandom(3 * 1024 * 1024)
    small_ref = await s3_store.put("a/b/small.bin", small)
    large_ref = await s3_store.put("a/b/large.bin", large)
    assert small_ref == f"s3://{s3_bucket}/pfx/a/b/small.bin" == s3_store.ref_for("a/b/small.bin")
    assert sorted(s3_server.keys(s3_bucket)) == ["pfx/a/b/large.bin", "pfx/a/b/small.bin"]
    assert await s3_store.get(small_ref) == small
    assert await s3_store.get(large_ref) == large
    assert await s3_store.exists(large_ref)
    await s3_store.put("a/b/small.bin", b"replaced")
    assert await s3_store.get(small_ref) == b"replaced"
    await s3_store.delete(large_ref)
    await s3_store.delete(large_ref)
    assert not await s3_store.exists(large_ref)
    with pytest.raises(BlobNotFound):
        await s3_store.get(large_ref)
    assert s3_server.keys(s3_bucket) == ["pfx/a/b/small.bin"]


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", "", "a//b", "a\\b"])
async def test_s3_blob_rejects_unsafe_keys(s3_store: S3BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobRef):
        await s3_store.put(key, b"x")
    with pytest.raises(InvalidBlobRef):
        await s3_store.get("file:" + key)


async def test_s3_store_from_settings_creates_its_bucket(s3_server: S3Server) -> None:
    from settings import Settings

    bucket = f"made-{uuid.uuid4().hex[:12]}"
    store = make_blob_store(
        Settings(
            BLOB_BACKEND="s3",
            S3_BUCKET=bucket,
            S3_ENDPOINT_URL=s3_server.endpoint_url,
            S3_ACCESS_KEY_ID=ACCESS_KEY_ID,
            S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            S3_REGION=REGION,
        )
    )
    ref = await store.put("k.json", b"{}")
    assert ref == f"s3://{bucket}/k.json"
    assert s3_server.keys(bucket) == ["k.json"]


async def test_run_values_above_threshold_go_to_s3(s3_store: S3BlobStore, s3_server: S3Server, s3_bucket: str) -> None:
    run_id = new_run_id()
    value = {"text": "é" * 300_000}
    stored = await store_value(value, 256 * 1024, s3_store, run_value_key(run_id, "output"))
    assert stored.storage == "s3" and stored.inline is None and str(run_id) in stored.ref
    assert any(str(run_id) in key for key in s3_server.keys(s3_bucket))
    assert await load_value(stored.storage, None, stored.ref, s3_store) == value


async def test_routing_store_writes_to_s3_and_reads_files(s3_store: S3BlobStore, s3_server: S3Server, s3_bucket: str, tmp_path) -> None:
    files = FileBlobStore(tmp_path)
    file_ref = await files.put("old.json", b"1")
    routing = RoutingBlobStore(s3_store, files)
    s3_ref = await routing.put("new.json", b"2")
    assert s3_ref.startswith("s3://") and s3_server.keys(s3_bucket) == ["pfx/new.json"]
    assert await routing.get(file_ref) == b"1" and await routing.get(s3_ref) == b"2"
    await routing.delete(s3_ref)
    assert s3_server.keys(s3_bucket) == []


async def test_data_converter_offloads_to_s3(s3_store: S3BlobStore, s3_server: S3Server, s3_bucket: str) -> None:
    converter = data_converter(store=s3_store, threshold=THRESHOLD)
    small, large = {"a": 1}, "x" * (THRESHOLD * 4)
    payloads = await converter.encode([small, large])
    assert payloads[0].ByteSize() < 100
    assert payloads[1].ByteSize() < 1024 and len(payloads[1].external_payloads) == 1
    assert await converter.decode(payloads, [dict, str]) == [small, large]
    keys = s3_server.keys(s3_bucket)
    assert len(keys) == 1 and keys[0].startswith("pfx/temporal/")


@pytest.mark.stack
async def test_large_workflow_payloads_land_in_s3(stack, s3_store: S3BlobStore, s3_server: S3Server, s3_bucket: str) -> None:
    converter = data_converter(store=s3_store, threshold=THRESHOLD)
    client = await Client.connect(stack.temporal_address, namespace=stack.namespace, data_converter=converter)
    task_queue = f"offload-s3-{uuid.uuid4().hex[:8]}"
    large_input = "i" * (1024 * 1024)
    result_size = 3 * 1024 * 1024
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[LargeValuesWorkflow],
        activities=[make_large_result],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            LargeValuesWorkflow.run,
            args=[large_input, result_size],
            id=f"offload-s3-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        assert await handle.result() == "i" * 10 + "r" * result_size

    history = await handle.fetch_history()
    assert History(events=history.events).ByteSize() < 64 * 1024
    claims = []
    for event in history.events:
        for payload in _payloads_in(event):
            assert payload.ByteSize() < THRESHOLD
            claims.extend(payload.external_payloads)
    assert len(claims) >= 3  # workflow input, activity result, workflow result
    keys = s3_server.keys(s3_bucket, "pfx/temporal/")
    assert len(keys) >= 3
    sizes = [s3_server.client().head_object(Bucket=s3_bucket, Key=key)["ContentLength"] for key in keys]
    assert max(sizes) > result_size


@pytest.mark.stack
async def test_retention_deletes_expired_runs_objects_from_s3(
    database_url: str, s3_store: S3BlobStore, s3_server: S3Server, s3_bucket: str
) -> None:
    from persistence.db import get_engine
    from persistence.maintenance import run_maintenance
    from persistence.partitions import ensure_partitions

    engine = get_engine(database_url)
    old_day = date(2004, 4, 4)
    old_run = new_run_id(datetime(2004, 4, 4, 10, tzinfo=UTC))
    new_run = new_run_id()
    refs = {}
    for run_id in (old_run, new_run):
        refs[run_id] = (
            await s3_store.put(run_value_key(run_id, "input"), b'"in"'),
            await s3_store.put(run_value_key(run_id, "output"), b'"out"'),
        )
    async with engine.begin() as conn:
        await ensure_partitions(conn, days_ahead=0, days_back=0, today=old_day)
        for run_id, (input_ref, output_ref) in refs.items():
            await conn.execute(
                text(
                    "INSERT INTO task_runs (id, created_at, trigger, cy_script, status, input_storage, input_ref,"
                    " output_storage, output_ref) VALUES (:id, :created_at, 'adhoc', 'return 1', 'completed',"
                    " 's3', :input_ref, 's3', :output_ref)"
                ),
                {
                    "id": run_id,
                    "created_at": created_at_from_run_id(run_id),
                    "input_ref": input_ref,
                    "output_ref": output_ref,
                },
            )
    assert len(s3_server.keys(s3_bucket)) == 4
    try:
        report = await run_maintenance(engine, retention_days=90, delete_blob=s3_store.delete)
        assert old_day in report.days_dropped
        left = s3_server.keys(s3_bucket)
        assert sorted(left) == sorted(ref.split("/", 3)[3] for ref in refs[new_run])
        assert all(str(old_run) not in key for key in left)
        for ref in refs[old_run]:
            assert not await s3_store.exists(ref)
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM task_runs WHERE id = :id AND created_at = :created_at"),
                {"id": new_run, "created_at": created_at_from_run_id(new_run)},
            )
