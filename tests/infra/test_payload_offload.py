from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from devstack import DevStack
from storage import FileBlobStore, data_converter

THRESHOLD = 64 * 1024


@activity.defn
async def make_large_result(size: int) -> str:
    return "r" * size


@workflow.defn
class LargeValuesWorkflow:
    @workflow.run
    async def run(self, large_input: str, result_size: int) -> str:
        result = await workflow.execute_activity(
            make_large_result, result_size, start_to_close_timeout=timedelta(seconds=30)
        )
        return large_input[:10] + result


async def test_data_converter_round_trip(tmp_path) -> None:
    from settings import Settings

    converter = data_converter(Settings(DATA_DIR=tmp_path, INLINE_THRESHOLD_BYTES=THRESHOLD))
    small, large = {"a": 1}, "x" * (THRESHOLD * 4)
    payloads = await converter.encode([small, large])
    assert payloads[0].ByteSize() < 100
    assert payloads[1].ByteSize() < 1024 and len(payloads[1].external_payloads) == 1
    assert await converter.decode(payloads, [dict, str]) == [small, large]
    blobs = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    again = await converter.encode([large])
    assert again[0] == payloads[1]
    assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 1


@pytest.mark.stack
async def test_large_values_stay_out_of_history(stack: DevStack, tmp_path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    converter = data_converter(store=store, threshold=THRESHOLD)
    client = await Client.connect(stack.temporal_address, namespace=stack.namespace, data_converter=converter)
    task_queue = f"offload-{uuid.uuid4().hex[:8]}"
    large_input = "i" * (1024 * 1024)
    result_size = 5 * 1024 * 1024
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
            id=f"offload-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        result = await handle.result()
    assert result == "i" * 10 + "r" * result_size

    history = await handle.fetch_history()
    raw_size = History(events=history.events).ByteSize()
    assert raw_size < 64 * 1024, raw_size
    external = 0
    for event in history.events:
        for payload in _payloads_in(event):
            assert payload.ByteSize() < THRESHOLD
            external += len(payload.external_payloads)
    assert external >= 3  # workflow input, activity result, workflow result
    assert [p for p in store.root.rglob("*") if p.is_file()]


def _payloads_in(message):
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = value.values()
        elif field.is_repeated:
            items = value
        else:
            items = [value]
        for item in items:
            if hasattr(item, "ListFields"):
                yield from _payloads_in(item)
