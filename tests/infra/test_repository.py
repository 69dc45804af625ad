from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import DBAPIError

from persistence import repository as repo
from persistence.db import get_sessionmaker, session_scope
from persistence.ids import created_at_from_run_id, new_run_id
from persistence.models import TaskVersion

pytestmark = pytest.mark.stack


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def test_create_task_generates_unique_cy_name(db_session) -> None:
    base = _unique("Summarize Alert")
    first = await repo.create_task(db_session, name=base, script="return 1")
    second = await repo.create_task(db_session, name=base, script="return 2")
    assert first.cy_name == repo.cy_name_from(base)
    assert second.cy_name == first.cy_name + "_2"
    assert first.version == 1 and first.status == "enabled" and first.scope == "processing"
    versions = await repo.list_versions(db_session, first.id)
    assert [v.version for v in versions] == [1]
    with pytest.raises(repo.TaskNameConflict):
        await repo.create_task(db_session, name="x", script="return 3", cy_name=first.cy_name)


def test_cy_name_from() -> None:
    assert repo.cy_name_from("Summarize Alert (v2)") == "summarize_alert_v2"
    assert repo.cy_name_from("2 Step Plan") == "task_2_step_plan"
    assert repo.cy_name_from("Déjà vu") == "deja_vu"
    assert repo.cy_name_from("!!!") == "task"


async def test_get_task_by_id_or_cy_name(db_session) -> None:
    task = await repo.create_task(db_session, name=_unique("Lookup"), script="return 1")
    assert (await repo.get_task(db_session, task.id)).id == task.id
    assert (await repo.get_task(db_session, str(task.id))).id == task.id
    assert (await repo.get_task(db_session, task.cy_name)).id == task.id
    assert await repo.get_task(db_session, "no_such_task") is None
    assert await repo.get_task(db_session, uuid.uuid4()) is None


async def test_update_task_versions_only_on_execution_changes(db_session) -> None:
    task = await repo.create_task(
        db_session, name=_unique("Versioned"), script="return 1", directive="be brief"
    )
    same = await repo.update_task(db_session, task.id, {"description": "docs only"})
    assert same.version == 1 and same.description == "docs only"
    unchanged = await repo.update_task(db_session, task.id, {"script": "return 1"})
    assert unchanged.version == 1
    updated = await repo.update_task(
        db_session, task.cy_name, {"script": "return 2", "timeout_seconds": 30}, updated_by="alice"
    )
    assert updated.version == 2 and updated.script == "return 2"
    again = await repo.update_task(db_session, task.id, {"llm_config": {"model": "m"}})
    assert again.version == 3
    versions = await repo.list_versions(db_session, task.id)
    assert [(v.version, v.script) for v in versions] == [(3, "return 2"), (2, "return 2"), (1, "return 1")]
    assert versions[1].created_by == "alice" and versions[1].timeout_seconds == 30
    v1 = await repo.get_version(db_session, task.id, 1)
    assert isinstance(v1, TaskVersion) and v1.directive == "be brief"
    with pytest.raises(repo.TaskNotFound):
        await repo.update_task(db_session, uuid.uuid4(), {"script": "x"})
    with pytest.raises(TypeError):
        await repo.update_task(db_session, task.id, {"version": 9})


async def test_task_versions_are_immutable(database_url: str) -> None:
    async with session_scope(database_url) as session:
        task = await repo.create_task(session, name=_unique("Immutable"), script="return 1")
    with pytest.raises(DBAPIError, match="immutable"):
        async with session_scope(database_url) as session:
            version = await repo.get_version(session, task.id, 1)
            version.script = "tampered"
            await session.flush()


async def test_archive_and_list_tasks_with_filters_and_cursor(db_session) -> None:
    function = "fn_" + uuid.uuid4().hex[:8]
    created = [
        await repo.create_task(
            db_session, name=_unique(f"Paged {i}"), script="return 1", function=function, scope="output"
        )
        for i in range(7)
    ]
    archived = await repo.archive_task(db_session, created[0].cy_name)
    assert archived.status == "archived"
    assert await repo.archive_task(db_session, "missing_task") is None

    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = await repo.list_tasks(db_session, function=function, cursor=cursor, limit=2)
        seen.extend(task.id for task in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [task.id for task in reversed(created[1:])]
    with_archived = await repo.list_tasks(db_session, function=function, include_archived=True, limit=100)
    assert len(with_archived.items) == 7
    only_archived = await repo.list_tasks(db_session, function=function, status="archived")
    assert [t.id for t in only_archived.items] == [created[0].id]
    by_name = await repo.list_tasks(db_session, name=created[3].name.upper().split()[-1])
    assert [t.id for t in by_name.items] == [created[3].id]
    assert (await repo.list_tasks(db_session, function=function, scope="input")).items == []
    with pytest.raises(repo.InvalidCursor):
        await repo.list_tasks(db_session, cursor="not-a-cursor")


async def _new_task(session) -> uuid.UUID:
    task = await repo.create_task(session, name=_unique("Runs"), script="return input")
    return task.id


async def test_run_lifecycle_and_terminal_guard(db_session) -> None:
    task_id = await _new_task(db_session)
    run = await repo.create_run(
        db_session, trigger="api", task_id=task_id, task_version=1, input_inline={"a": 1}
    )
    assert run.status == "pending"
    assert run.created_at == created_at_from_run_id(run.id)
    assert run.workflow_id == f"taskrun-{run.id}"
    assert run.input_inline == {"a": 1}

    assert await repo.mark_run_running(db_session, run.id, workflow_run_id="wf-run-1")
    assert await repo.set_run_status(db_session, run.id, "paused")
    assert not await repo.mark_run_running(db_session, run.id, only_pending=True)  # a late first start
    assert (await repo.get_run(db_session, run.id)).status == "paused"
    assert await repo.mark_run_running(db_session, run.id)
    assert await repo.append_logs(db_session, run.id, ["one", "two"]) == 2
    finished = await repo.finish_run(
        db_session,
        run.id,
        status="completed",
        output_storage="inline",
        output_inline=[1, 2, 3],
        logs=["three"],
        llm_usage={"prompt_tokens": 3, "completion_tokens": 4},
    )
    assert finished
    stored = await repo.get_run(db_session, run.id)
    assert stored.status == "completed"
    assert stored.output_inline == [1, 2, 3]
    assert stored.logs_count == 3
    assert stored.started_at is not None and stored.completed_at >= stored.started_at
    assert stored.duration_ms is not None and stored.duration_ms >= 0
    assert stored.workflow_run_id == "wf-run-1"
    assert stored.llm_usage == {"prompt_tokens": 3, "completion_tokens": 4}

    assert not await repo.finish_run(
        db_session, run.id, status="failed", error={"type": "X", "message": "late"}, logs=["late"]
    )
    assert not await repo.mark_run_running(db_session, run.id)
    assert not await repo.set_run_status(db_session, run.id, "paused")
    stored = await repo.get_run(db_session, run.id)
    assert stored.status == "completed" and stored.error is None and stored.logs_count == 3
    logs = await repo.get_logs(db_session, run.id)
    assert [(line.seq, line.message) for line in logs] == [(1, "one"), (2, "two"), (3, "three")]
    assert [line.seq for line in await repo.get_logs(db_session, run.id, after_seq=2)] == [3]

    with pytest.raises(repo.InvalidRunStatus):
        await repo.finish_run(db_session, run.id, status="running")
    with pytest.raises(repo.InvalidRunStatus):
        await repo.set_run_status(db_session, run.id, "completed")


async def test_adhoc_run_with_blob_input_and_failure(db_session) -> None:
    run = await repo.create_run(
        db_session,
        trigger="adhoc",
        cy_script="return 1 / 0",
        input_storage="file",
        input_ref="file:runs/x/input.json",
    )
    stored = await repo.get_run(db_session, run.id)
    assert stored.task_id is None and stored.input_inline is None and stored.input_ref
    error = {"type": "ZeroDivision", "message": "division by zero", "line": 1, "column": 8}
    assert await repo.finish_run(db_session, run.id, status="failed", error=error)
    assert (await repo.get_run(db_session, run.id)).error == error
    assert await repo.get_run(db_session, new_run_id()) is None
    assert await repo.get_run(db_session, "not-a-uuid") is None
    assert await repo.get_run(db_session, uuid.uuid4()) is None


async def test_list_runs_filters_and_cursor(db_session) -> None:
    task_id = await _new_task(db_session)
    base = datetime.now(UTC) - timedelta(minutes=30)
    runs = []
    for i in range(9):
        run = await repo.create_run(
            db_session,
            run_id=new_run_id(base + timedelta(seconds=i)),
            trigger="schedule" if i % 3 == 0 else "api",
            task_id=task_id,
            task_version=1,
        )
        runs.append(run)
    for run in runs[:4]:
        await repo.finish_run(db_session, run.id, status="completed")

    newest_first = [run.id for run in reversed(runs)]
    seen, cursor = [], None
    while True:
        page = await repo.list_runs(db_session, task_id=task_id, cursor=cursor, limit=4)
        seen.extend(run.id for run in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == newest_first

    completed = await repo.list_runs(db_session, task_id=task_id, status="completed")
    assert [r.id for r in completed.items] == [r.id for r in reversed(runs[:4])]
    scheduled = await repo.list_runs(db_session, task_id=task_id, trigger=["schedule"])
    assert [r.id for r in scheduled.items] == [runs[6].id, runs[3].id, runs[0].id]
    window = await repo.list_runs(
        db_session,
        task_id=task_id,
        created_after=runs[2].created_at,
        created_before=runs[5].created_at,
    )
    assert [r.id for r in window.items] == [runs[4].id, runs[3].id, runs[2].id]
    active = await repo.list_runs(db_session, task_id=task_id, status=["pending", "running"])
    assert len(active.items) == 5
    stale = await repo.list_stale_pending_runs(db_session, timedelta(minutes=10), limit=1000)
    assert {r.id for r in runs[4:]} <= {r.id for r in stale}


async def test_finish_run_races_leave_one_winner(database_url: str) -> None:
    async with session_scope(database_url) as session:
        run = await repo.create_run(session, trigger="adhoc", cy_script="return 1")

    async def finish(status: str) -> bool:
        async with session_scope(database_url) as session:
            return await repo.finish_run(session, run.id, status=status, logs=[status])

    results = await asyncio.gather(*(finish(s) for s in ["completed", "failed", "cancelled", "timed_out"]))
    assert sum(results) == 1
    async with session_scope(database_url) as session:
        stored = await repo.get_run(session, run.id)
        logs = await repo.get_logs(session, run.id)
    winner = ["completed", "failed", "cancelled", "timed_out"][results.index(True)]
    assert stored.status == winner
    assert [line.message for line in logs] == [winner]


async def test_idempotency_key_claims(database_url: str) -> None:
    scope = "key:alice POST /v1/tasks/execute"
    key = uuid.uuid4().hex
    body_hash = repo.request_hash({"script": "return 1", "input": {"b": 2, "a": 1}})
    assert body_hash == repo.request_hash({"input": {"a": 1, "b": 2}, "script": "return 1"})

    first_id, second_id = new_run_id(), new_run_id()
    async with session_scope(database_url) as session:
        claim = await repo.claim_idempotency_key(
            session, scope=scope, key=key, request_hash=body_hash, run_id=first_id
        )
        assert claim.claimed and claim.run_id == first_id
        await repo.create_run(session, run_id=first_id, trigger="adhoc", cy_script="return 1")
    async with session_scope(database_url) as session:
        again = await repo.claim_idempotency_key(
            session, scope=scope, key=key, request_hash=body_hash, run_id=second_id
        )
        assert not again.claimed and again.run_id == first_id and again.request_matches
        assert again.run_created_at == created_at_from_run_id(first_id)
        other_body = await repo.claim_idempotency_key(
            session, scope=scope, key=key, request_hash="different", run_id=second_id
        )
        assert not other_body.claimed and not other_body.request_matches
        other_scope = await repo.claim_idempotency_key(
            session, scope=scope + "-other", key=key, request_hash=body_hash, run_id=second_id
        )
        assert other_scope.claimed


async def test_idempotency_concurrent_claims_agree(database_url: str) -> None:
    key = uuid.uuid4().hex

    async def claim() -> uuid.UUID:
        run_id = new_run_id()
        async with session_scope(database_url) as session:
            result = await repo.claim_idempotency_key(
                session, scope="s", key=key, request_hash="h", run_id=run_id
            )
            if result.claimed:
                await repo.create_run(session, run_id=run_id, trigger="api", cy_script="return 1")
                await asyncio.sleep(0.05)
            return result.run_id

    winners = await asyncio.gather(*(claim() for _ in range(5)))
    assert len(set(winners)) == 1
    async with session_scope(database_url) as session:
        assert await repo.get_run(session, winners[0]) is not None


async def test_api_keys(db_session) -> None:
    secret = "bootstrap-" + uuid.uuid4().hex
    key = await repo.ensure_bootstrap_api_key(db_session, secret)
    assert key.name == repo.BOOTSTRAP_KEY_NAME and key.roles == ["admin"]
    assert key.key_hash == repo.hash_api_key(secret) and secret not in key.key_hash
    assert (await repo.find_api_key(db_session, secret)).name == repo.BOOTSTRAP_KEY_NAME
    rotated = "rotated-" + uuid.uuid4().hex
    again = await repo.ensure_bootstrap_api_key(db_session, rotated)
    assert again.id == key.id
    assert await repo.find_api_key(db_session, secret) is None
    assert await repo.ensure_bootstrap_api_key(db_session, None) is None
    created, plain = await repo.create_api_key(db_session, _unique("reader"), roles=["read"])
    assert (await repo.find_api_key(db_session, plain)).id == created.id
    assert await repo.delete_api_key(db_session, created.name)
    assert await repo.find_api_key(db_session, plain) is None

