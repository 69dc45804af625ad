"""Run listing: the plans that keep it fast at millions of rows, and the limit on broad queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from persistence import repository as repo
from persistence.db import get_engine, get_sessionmaker
from persistence.ids import created_at_from_run_id
from persistence.partitions import partition_name
from persistence.models import TaskRun
from persistence.repository.pagination import before_cursor, encode_cursor
from persistence.repository.runs import RunQueryTooBroad

pytestmark = pytest.mark.stack


async def _plan(database_url: str, sql: str, params: dict) -> str:
    async with get_engine(database_url).connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))  # the tables are tiny here
        rows = await conn.execute(text("EXPLAIN (COSTS OFF) " + sql), params)
        return "\n".join(row[0] for row in rows)


async def test_newest_first_reads_partitions_in_order(database_url: str) -> None:
    plan = await _plan(database_url, "SELECT * FROM task_runs ORDER BY created_at DESC, id DESC LIMIT 51", {})
    assert "Merge Append" not in plan and "Sort" not in plan, plan
    assert plan.splitlines()[1].strip().startswith("->  Append"), plan


async def test_cursor_is_an_index_condition(database_url: str) -> None:
    cursor = encode_cursor(datetime.now(UTC), uuid.uuid4())
    statement = (
        select(TaskRun.id)
        .where(before_cursor(TaskRun.created_at, TaskRun.id, cursor))
        .order_by(TaskRun.created_at.desc(), TaskRun.id.desc())
        .limit(51)
    )
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = await _plan(database_url, sql, {})
    conditions = [line for line in plan.splitlines() if "Index Cond" in line]
    assert conditions and all("ROW(created_at, id) <" in line for line in conditions), plan
    assert "Filter" not in plan, plan


async def test_task_and_status_use_their_own_index(database_url: str) -> None:
    # Upcoming partitions: no rows, no statistics left by other tests to sway the planner.
    plan = await _plan(
        database_url,
        "SELECT * FROM task_runs WHERE task_id = :task AND status = 'failed' AND created_at >= :after "
        "ORDER BY created_at DESC, id DESC LIMIT 51",
        {"task": uuid.uuid4(), "after": datetime.now(UTC) + timedelta(days=2)},
    )
    assert "ix_task_runs_task_id_status_created_at_id" in plan or "task_id_status_created_at_id" in plan, plan
    assert "Filter" not in plan, plan


async def test_list_runs_cursor_walks_every_row_once(db_session) -> None:
    task = await repo.create_task(db_session, name=f"listing {uuid.uuid4().hex[:8]}", script="return 1")
    created = [
        await repo.create_run(db_session, trigger="api", task_id=task.id, task_version=1, status=status)
        for status in ["completed", "failed"] * 5
    ]
    seen, cursor = [], None
    while True:
        page = await repo.list_runs(db_session, task_id=task.id, status="failed", cursor=cursor, limit=2)
        seen.extend(run.id for run in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = sorted((run.id for run in created if run.status == "failed"), key=lambda i: i.int, reverse=True)
    assert seen == expected
    last = created[-1]
    after_last = await repo.list_runs(
        db_session, task_id=task.id, cursor=encode_cursor(created_at_from_run_id(last.id), last.id)
    )
    assert [run.id for run in after_last.items] == [run.id for run in reversed(created[:-1])]


async def test_list_timeout_is_restored_after_a_listing(db_session) -> None:
    before = (await db_session.execute(text("SHOW statement_timeout"))).scalar_one()
    await repo.list_runs(db_session, status="failed", timeout_ms=1234)
    assert (await db_session.execute(text("SHOW statement_timeout"))).scalar_one() == before


async def test_a_listing_past_its_time_limit_is_refused_as_too_broad(database_url: str) -> None:
    """A listing held up (here by a lock on today's partition) past its limit is cancelled by
    the server and answered with RunQueryTooBroad, not left running."""
    today = partition_name("task_runs", datetime.now(UTC).date())
    blocker = get_engine(database_url)
    async with blocker.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(text(f"LOCK TABLE {today} IN ACCESS EXCLUSIVE MODE"))
        try:
            async with get_sessionmaker(database_url)() as session:
                with pytest.raises(RunQueryTooBroad) as caught:
                    await repo.list_runs(
                        session, created_after=datetime.now(UTC) - timedelta(hours=1), timeout_ms=200
                    )
                assert "narrow" in str(caught.value) and caught.value.timeout_ms == 200
        finally:
            await transaction.rollback()


async def test_cursor_prunes_partitions_newer_than_its_position(database_url: str) -> None:
    position = datetime.now(UTC) - timedelta(days=1)
    statement = (
        select(TaskRun.id)
        .where(before_cursor(TaskRun.created_at, TaskRun.id, encode_cursor(position, uuid.uuid4())))
        .order_by(TaskRun.created_at.desc(), TaskRun.id.desc())
        .limit(51)
    )
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = await _plan(database_url, sql, {})
    assert partition_name("task_runs", datetime.now(UTC).date()) not in plan, plan
    assert partition_name("task_runs", position.date()) in plan, plan
