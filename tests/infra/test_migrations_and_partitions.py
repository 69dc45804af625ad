from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from persistence.db import create_sync_engine, get_engine
from persistence.ids import created_at_from_run_id, new_run_id
from persistence.migrate import current_revision, head_revision, upgrade
from persistence.partitions import (
    drop_partitions_older_than,
    ensure_partitions,
    list_day_partitions,
    list_partitions,
    partition_name,
)

pytestmark = pytest.mark.stack

EXPECTED_TABLES = {
    "api_keys", "tasks", "task_versions", "task_runs", "task_run_logs", "idempotency_keys",
    "workflows", "workflow_versions", "workflow_runs",
}


def test_migrations_apply_and_reapply(database_url: str) -> None:
    assert current_revision(database_url) == head_revision()
    upgrade(database_url)
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    engine = create_sync_engine(database_url, poolclass=NullPool)
    with engine.connect() as conn:
        tables = set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )
        partitioned = dict(
            conn.execute(
                text(
                    "SELECT c.relname, pt.partstrat FROM pg_partitioned_table pt "
                    "JOIN pg_class c ON c.oid = pt.partrelid"
                )
            ).all()
        )
    engine.dispose()
    assert EXPECTED_TABLES <= tables
    assert partitioned == {"task_runs": "r", "task_run_logs": "r", "workflow_runs": "r"}


async def test_partitions_exist_around_today(database_url: str) -> None:
    async with get_engine(database_url).begin() as conn:
        days = await list_day_partitions(conn)
        log_days = await list_day_partitions(conn, "task_run_logs")
    today = datetime.now(UTC).date()
    for offset in range(-1, 8):
        assert today + timedelta(days=offset) in days
        assert today + timedelta(days=offset) in log_days


async def test_ensure_partitions_is_idempotent(database_url: str) -> None:
    async with get_engine(database_url).begin() as conn:
        assert await ensure_partitions(conn, days_ahead=7, days_back=1) == []


async def test_lookup_by_id_touches_one_partition(database_url: str) -> None:
    run_id = new_run_id()
    plan = await _explain(
        database_url,
        "SELECT * FROM task_runs WHERE id = :id AND created_at = :created_at",
        {"id": run_id, "created_at": created_at_from_run_id(run_id)},
    )
    scanned = _scanned_relations(plan)
    today = created_at_from_run_id(run_id).date()
    assert scanned == {partition_name("task_runs", today)}, plan


async def test_time_range_list_prunes_partitions(database_url: str) -> None:
    now = datetime.now(UTC)
    plan = await _explain(
        database_url,
        "SELECT * FROM task_runs WHERE created_at >= :after ORDER BY created_at DESC, id DESC LIMIT 50",
        {"after": now + timedelta(days=3)},
    )
    scanned = _scanned_relations(plan)
    assert partition_name("task_runs", now.date()) not in scanned
    assert partition_name("task_runs", (now - timedelta(days=1)).date()) not in scanned


async def test_rows_without_day_partition_land_in_a_span_and_move_on_creation(database_url: str) -> None:
    far_future = datetime.now(UTC) + timedelta(days=400)
    run_id = new_run_id(far_future)
    day = created_at_from_run_id(run_id).date()
    engine = get_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO task_runs (id, created_at, trigger, cy_script) "
                "VALUES (:id, :created_at, 'adhoc', 'return 1')"
            ),
            {"id": run_id, "created_at": created_at_from_run_id(run_id)},
        )
        where = await conn.scalar(
            text("SELECT tableoid::regclass::text FROM task_runs WHERE id = :id"), {"id": run_id}
        )
        assert where.startswith("task_runs_s") and where.endswith("_max"), where
    try:
        async with engine.begin() as conn:
            created = await ensure_partitions(conn, days_ahead=0, days_back=0, today=day)
            assert partition_name("task_runs", day) in created
            where = await conn.scalar(
                text("SELECT tableoid::regclass::text FROM task_runs WHERE id = :id"), {"id": run_id}
            )
            assert where == partition_name("task_runs", day)
            assert _gaps_in(await list_partitions(conn)) == []
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM task_runs WHERE id = :id AND created_at = :created_at"),
                {"id": run_id, "created_at": created_at_from_run_id(run_id)},
            )


async def test_partitions_cover_the_whole_time_line_without_default(database_url: str) -> None:
    async with get_engine(database_url).connect() as conn:
        for table in ("task_runs", "task_run_logs"):
            parts = await list_partitions(conn, table)
            assert _gaps_in(parts) == [], parts
            assert parts[0].lower is None and parts[-1].upper is None
            has_default = await conn.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partrelid "
                    "WHERE c.relname = :table AND pt.partdefid <> 0)"
                ),
                {"table": table},
            )
            assert not has_default


async def test_runs_of_old_days_in_a_span_get_their_partition_from_maintenance(database_url: str) -> None:
    from persistence.maintenance import run_maintenance

    engine = get_engine(database_url)
    day = datetime.now(UTC).date() - timedelta(days=30)
    run_id = new_run_id(datetime(day.year, day.month, day.day, 6, tzinfo=UTC))
    async with engine.begin() as conn:
        assert day not in await list_day_partitions(conn)
        await conn.execute(
            text(
                "INSERT INTO task_runs (id, created_at, trigger, cy_script) "
                "VALUES (:id, :created_at, 'adhoc', 'return 1')"
            ),
            {"id": run_id, "created_at": created_at_from_run_id(run_id)},
        )
    try:
        report = await run_maintenance(engine, retention_days=90)
        assert partition_name("task_runs", day) in report.partitions_created
        async with engine.connect() as conn:
            where = await conn.scalar(
                text("SELECT tableoid::regclass::text FROM task_runs WHERE id = :id"), {"id": run_id}
            )
            assert where == partition_name("task_runs", day)
            assert _gaps_in(await list_partitions(conn)) == []
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM task_runs WHERE id = :id AND created_at = :created_at"),
                {"id": run_id, "created_at": created_at_from_run_id(run_id)},
            )


def _gaps_in(parts) -> list:
    """Holes or overlaps between consecutive partitions, which must tile the time line."""
    problems = []
    for before, after in zip(parts, parts[1:]):
        if before.upper != after.lower:
            problems.append((before.name, after.name))
    return problems


async def test_retention_drops_old_partitions(database_url: str) -> None:
    engine = get_engine(database_url)
    old_days = [date(2001, 1, 1) + timedelta(days=i) for i in range(3)]
    old_ids = [new_run_id(datetime(d.year, d.month, d.day, 12, tzinfo=UTC)) for d in old_days]
    async with engine.begin() as conn:
        for day in old_days:
            await ensure_partitions(conn, days_ahead=0, days_back=0, today=day)
        for run_id in old_ids:
            await conn.execute(
                text(
                    "INSERT INTO task_runs (id, created_at, trigger, cy_script) "
                    "VALUES (:id, :created_at, 'adhoc', 'return 1')"
                ),
                {"id": run_id, "created_at": created_at_from_run_id(run_id)},
            )
        stray_id = new_run_id(datetime(2000, 6, 1, tzinfo=UTC))
        await conn.execute(
            text(
                "INSERT INTO task_runs (id, created_at, trigger, cy_script) "
                "VALUES (:id, :created_at, 'adhoc', 'return 1')"
            ),
            {"id": stray_id, "created_at": created_at_from_run_id(stray_id)},
        )
    async with engine.begin() as conn:
        dropped = await drop_partitions_older_than(conn, days=90)
        remaining = await list_day_partitions(conn)
        leftover = await conn.scalar(
            text("SELECT count(*) FROM task_runs WHERE created_at < '2002-01-01'")
        )
    assert dropped == old_days
    assert not set(old_days) & set(remaining)
    assert datetime.now(UTC).date() in remaining
    assert leftover == 0


async def _explain(database_url: str, sql: str, params: dict) -> str:
    async with get_engine(database_url).connect() as conn:
        rows = await conn.execute(text("EXPLAIN (COSTS OFF) " + sql), params)
        return "\n".join(row[0] for row in rows)


def _scanned_relations(plan: str) -> set[str]:
    scanned = set()
    for line in plan.splitlines():
        if " on " in line and "Scan" in line:
            relation = line.split(" on ", 1)[1].split()[0]
            scanned.add(relation)
    return {_table_of(name) for name in scanned}


def _table_of(relation: str) -> str:
    # Index scans name the index: map it back to its partition.
    if relation.startswith("task_runs_p") and "_" in relation[len("task_runs_p"):]:
        return relation[: len("task_runs_p") + 8]
    return relation


def test_uuid_v7_time_roundtrip() -> None:
    at = datetime(2030, 5, 17, 8, 30, 15, 123000, tzinfo=UTC)
    run_id = new_run_id(at)
    assert run_id.version == 7
    assert created_at_from_run_id(run_id) == at
    assert created_at_from_run_id(str(run_id)) == at
    ids = [new_run_id() for _ in range(2000)]
    assert ids == sorted(ids, key=lambda value: value.int)
    assert len(set(ids)) == len(ids)
    with pytest.raises(ValueError):
        created_at_from_run_id(uuid.uuid4())


async def test_maintenance_deletes_expired_blobs_then_drops_partitions(database_url: str, tmp_path) -> None:
    from persistence.maintenance import run_maintenance
    from storage import FileBlobStore

    store = FileBlobStore(tmp_path)
    engine = get_engine(database_url)
    day = date(2003, 3, 3)
    run_id = new_run_id(datetime(2003, 3, 3, 9, tzinfo=UTC))
    output_ref = await store.put(f"runs/{run_id}/output.json", b'"big"')
    async with engine.begin() as conn:
        await ensure_partitions(conn, days_ahead=0, days_back=0, today=day)
        await conn.execute(
            text(
                "INSERT INTO task_runs (id, created_at, trigger, cy_script, status, output_storage, output_ref) "
                "VALUES (:id, :created_at, 'adhoc', 'return 1', 'completed', 'file', :ref)"
            ),
            {"id": run_id, "created_at": created_at_from_run_id(run_id), "ref": output_ref},
        )
        question_id = uuid.uuid4()
        await conn.execute(
            text(
                "INSERT INTO questions (id, run_id, run_created_at, tool, question, created_at) "
                "VALUES (:id, :run_id, :run_created_at, 'app::human::ask', 'Approve?', :run_created_at)"
            ),
            {"id": question_id, "run_id": run_id, "run_created_at": created_at_from_run_id(run_id)},
        )
    report = await run_maintenance(engine, retention_days=90, delete_blob=store.delete)
    assert day in report.days_dropped
    assert {"task_runs_p20030303", "task_run_logs_p20030303"} <= set(report.partitions_dropped)
    assert report.runs_deleted >= 1
    assert report.questions_deleted >= 1
    assert "runs deleted: " in "\n".join(report.lines())
    async with engine.connect() as conn:
        left = await conn.execute(text("SELECT count(*) FROM questions WHERE id = :id"), {"id": question_id})
        assert left.scalar_one() == 0
    assert report.blobs_deleted >= 1
    assert not await store.exists(output_ref)
    again = await run_maintenance(engine, retention_days=90, delete_blob=store.delete)
    assert again.days_dropped == [] and again.partitions_created == []
    assert again.partitions_dropped == [] and again.runs_deleted == 0
