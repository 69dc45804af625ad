from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from devstack import (
    SEARCH_ATTRIBUTES,
    DevStack,
    TemporalDevServer,
    TemporalStartError,
    ensure_search_attributes,
    find_free_port,
    find_temporal_binary,
    is_port_open,
)
from devstack.temporal import DYNAMIC_CONFIG
from persistence.db import dispose_engines, get_engine

pytestmark = pytest.mark.stack


def test_temporal_binary_is_found() -> None:
    binary = find_temporal_binary()
    assert binary.name == "temporal" and os.access(binary, os.X_OK)


async def test_session_stack_has_search_attributes(stack: DevStack) -> None:
    listed = await stack.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=stack.namespace)
    )
    assert set(SEARCH_ATTRIBUTES) <= set(listed.custom_attributes)
    assert await ensure_search_attributes(stack.client, stack.namespace) == []


async def test_stack_starts_restarts_on_same_data_dir_and_stops_cleanly() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cytasks-devstack-"))
    try:
        temporal_port, ui_port = find_free_port(), find_free_port()
        timings = []
        for attempt in range(2):
            began = time.monotonic()
            async with DevStack(data_dir, temporal_port, ui_port) as stack:
                timings.append(time.monotonic() - began)
                assert stack.temporal_address == f"127.0.0.1:{temporal_port}"
                assert stack.ui_url == f"http://127.0.0.1:{ui_port}"
                assert is_port_open("127.0.0.1", temporal_port)
                async with get_engine(stack.database_url).begin() as conn:
                    if attempt == 0:
                        await conn.execute(text("CREATE TABLE survives (v int)"))
                        await conn.execute(text("INSERT INTO survives VALUES (42)"))
                    else:
                        assert await conn.scalar(text("SELECT v FROM survives")) == 42
                await dispose_engines()
                postgres_pid, temporal_pid = stack.postgres.pid, stack.temporal.pid
                assert psutil.pid_exists(postgres_pid) and psutil.pid_exists(temporal_pid)
            assert not _alive(postgres_pid) and not _alive(temporal_pid)
            assert not is_port_open("127.0.0.1", temporal_port)
        assert (data_dir / "temporal" / "temporal.db").exists()
        print(f"dev stack start: first {timings[0]:.2f}s, restart {timings[1]:.2f}s")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_temporal_start_failure_is_reported(tmp_path) -> None:
    taken = find_free_port()
    first = TemporalDevServer(tmp_path / "a", port=taken, headless=True)
    await first.start()
    try:
        second = TemporalDevServer(tmp_path / "b", port=taken, headless=True)
        with pytest.raises(TemporalStartError):
            await second.start(timeout=20)
        assert second.pid is None
    finally:
        await first.stop()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_dev_server_is_started_with_its_dynamic_config(tmp_path) -> None:
    command = TemporalDevServer(tmp_path, headless=True).command()
    passed = {command[i + 1] for i, arg in enumerate(command) if arg == "--dynamic-config-value"}
    assert passed == {f"{key}={value}" for key, value in DYNAMIC_CONFIG.items()}
    assert "history.transferProcessorMaxPollRPS=1000" in passed
