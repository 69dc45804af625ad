"""Through HTTP: rows of workflows closed outside the API are reconciled on read, and cancel
works on every non-terminal run."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from api_test_helpers import engine_importable

pytestmark = [
    pytest.mark.stack,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not engine_importable(), reason="taskrun.client / the worker are not importable yet"),
]

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture
def e2e(api_worker, client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


@pytest.fixture
async def temporal(api_settings):
    import worker

    return await worker.connect(api_settings)


async def execute(client: httpx.AsyncClient, script: str) -> str:
    response = await client.post("/v1/tasks/execute", json={"script": script, "input": {}})
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def wait_for(client: httpx.AsyncClient, run_id: str, until: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/v1/task-runs/{run_id}")
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] in until:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        await asyncio.sleep(0.1)


async def test_a_run_terminated_in_temporal_is_failed_on_read(e2e, temporal) -> None:
    run_id = await execute(e2e, "sleep(120)\nreturn 1")
    await wait_for(e2e, run_id, {"running"})
    await temporal.get_workflow_handle(f"taskrun-{run_id}").terminate(reason="stopped from the CLI")
    run = (await e2e.get(f"/v1/task-runs/{run_id}")).json()
    assert run["status"] == "failed"
    assert run["error"]["type"] == "WorkflowTerminated"
    assert "stopped from the CLI" in run["error"]["message"]
    assert run["completed_at"] is not None
    cancel = await e2e.post(f"/v1/task-runs/{run_id}/cancel")
    assert cancel.status_code == 409


async def test_the_long_poll_answers_when_the_workflow_is_terminated(e2e, temporal) -> None:
    run_id = await execute(e2e, "sleep(120)\nreturn 1")
    await wait_for(e2e, run_id, {"running"})

    async def terminate_soon() -> None:
        await asyncio.sleep(1)
        await temporal.get_workflow_handle(f"taskrun-{run_id}").terminate(reason="mid poll")

    terminating = asyncio.create_task(terminate_soon())
    response = await e2e.get(f"/v1/task-runs/{run_id}", params={"wait": 30})
    await terminating
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"]["type"] == "WorkflowTerminated"


async def test_a_run_timed_out_in_temporal_is_timed_out_on_read(e2e, temporal, api_settings) -> None:
    from datetime import timedelta

    from persistence.db import get_sessionmaker
    from persistence.repository import create_run
    from workflows.task_run import TaskRunWorkflow
    from taskrun.contract import TaskRunRequest

    script = "sleep(120)\nreturn 1"
    async with get_sessionmaker(api_settings.DATABASE_URL)() as session, session.begin():
        run_id = str((await create_run(session, trigger="adhoc", cy_script=script)).id)
    handle = await temporal.start_workflow(
        TaskRunWorkflow.run,
        TaskRunRequest(run_id=run_id, script=script, trigger="adhoc"),
        id=f"taskrun-{run_id}",
        task_queue=api_settings.TASK_QUEUE,
        execution_timeout=timedelta(seconds=2),
    )
    with pytest.raises(Exception):
        await handle.result()
    run = (await e2e.get(f"/v1/task-runs/{run_id}")).json()
    assert run["status"] == "timed_out"
    assert run["error"]["type"] == "WorkflowTimedOut"


async def test_cancel_a_running_run(e2e) -> None:
    run_id = await execute(e2e, "sleep(120)\nreturn 1")
    await wait_for(e2e, run_id, {"running"})
    assert (await e2e.post(f"/v1/task-runs/{run_id}/cancel")).status_code == 202
    run = await wait_for(e2e, run_id, TERMINAL)
    assert run["status"] == "cancelled"
    assert run["error"]["type"] == "Cancelled"


async def test_cancel_a_paused_run(e2e) -> None:
    run_id = await execute(e2e, 'return app::human::ask("Go on?", responses=["yes", "no"])')
    await wait_for(e2e, run_id, {"paused"})
    assert (await e2e.post(f"/v1/task-runs/{run_id}/cancel")).status_code == 202
    run = await wait_for(e2e, run_id, TERMINAL)
    assert run["status"] == "cancelled"
    assert run["error"]["type"] == "Cancelled"


async def test_a_cancel_the_workflow_cannot_act_on_is_forced_by_the_watcher(e2e, temporal, api_settings) -> None:
    """The run's workflow sits on a task queue no worker polls; the watcher runs with a short grace."""
    from activities.run_watch import RunWatchOptions
    from persistence.db import get_sessionmaker
    from persistence.repository import create_run
    from taskrun.client import start_task_run
    from workflows.maintenance import RunWatchWorkflow
    from taskrun.contract import TaskRunRequest

    async with get_sessionmaker(api_settings.DATABASE_URL)() as session, session.begin():
        run_id = str((await create_run(session, trigger="adhoc", cy_script="return 1")).id)
    handle = await start_task_run(
        temporal,
        TaskRunRequest(run_id=run_id, script="return 1", trigger="adhoc"),
        task_queue=f"no-worker-{uuid.uuid4()}",
        eager=False,
    )
    response = await e2e.post(f"/v1/task-runs/{run_id}/cancel")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    await asyncio.sleep(1.5)
    await temporal.execute_workflow(
        RunWatchWorkflow.run,
        RunWatchOptions(cancel_grace_seconds=1),
        id=f"run-watch-test-{uuid.uuid4()}",
        task_queue=api_settings.TASK_QUEUE,
    )
    run = (await e2e.get(f"/v1/task-runs/{run_id}")).json()
    assert run["status"] == "cancelled"
    assert run["error"]["type"] == "CancelForced"
    assert (await handle.describe()).status.name == "TERMINATED"


async def test_a_read_answers_when_temporal_is_unreachable(api_settings) -> None:
    """Reconciling on read asks Temporal with a short timeout and never fails the GET."""
    from api_test_helpers import running_app
    from devstack.ports import find_free_port
    from persistence.db import get_sessionmaker
    from persistence.repository import create_run

    async with get_sessionmaker(api_settings.DATABASE_URL)() as session, session.begin():
        run_id = str((await create_run(session, trigger="adhoc", cy_script="return 1", status="running")).id)
    unreachable = api_settings.model_copy(update={"TEMPORAL_ADDRESS": f"127.0.0.1:{find_free_port()}"})
    async with running_app(unreachable) as (_, client):
        response = await client.get(f"/v1/task-runs/{run_id}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "running"
    assert response.json()["error"] is None
