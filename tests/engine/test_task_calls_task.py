"""``app::tasks::run``: a script runs a saved task as a child run and gets its output."""

from __future__ import annotations

import uuid

import pytest

from persistence.db import get_sessionmaker
from persistence.repository.runs import list_runs
from persistence.repository.tasks import create_task

pytestmark = pytest.mark.stack


async def saved(runner, script: str, **fields) -> str:
    name = f"child_{uuid.uuid4().hex[:8]}"
    async with get_sessionmaker(runner.settings.DATABASE_URL)() as session, session.begin():
        await create_task(session, name=name, cy_name=name, script=script, **fields)
    return name


async def test_a_script_runs_a_saved_task_and_uses_its_output(runner):
    child = await saved(runner, 'return {"doubled": input.n * 2}', input_schema={"type": "object", "required": ["n"]})
    row = await runner.run(f'r = app::tasks::run("{child}", {{"n": 21}})\nreturn r.doubled + 1')
    assert row.status == "completed", row.error
    assert row.output_inline == 43
    async with get_sessionmaker(runner.settings.DATABASE_URL)() as session:
        children = (await list_runs(session, trigger="task", limit=500)).items
    mine = [c for c in children if c.created_by == f"run:{row.id}"]
    assert [(c.status, c.output_inline) for c in mine] == [("completed", {"doubled": 42})]


async def test_a_failing_child_fails_the_call_where_it_was_made(runner):
    child = await saved(runner, "return 1 / 0")
    row = await runner.run(f'x = 1\ny = app::tasks::run("{child}")\nreturn y')
    assert row.status == "failed"
    assert row.error["type"] == "ToolInvocationError"
    assert (row.error["line"], row.error["column"]) == (2, 5)
    assert f"Task '{child}'" in row.error["message"] and "division" in row.error["message"].lower()
    caught = await runner.run(f'try {{ return app::tasks::run("{child}") }} catch (e) {{ return "caught" }}')
    assert caught.output_inline == "caught"


async def test_unknown_tasks_bad_inputs_and_recursion_are_refused(runner):
    missing = await runner.run('return app::tasks::run("no_such_task_anywhere")')
    assert missing.status == "failed" and "No task with id or cy_name 'no_such_task_anywhere'" in missing.error["message"]
    strict = await saved(runner, "return input", input_schema={"type": "object", "required": ["n"]})
    bad = await runner.run(f'return app::tasks::run("{strict}", {{"m": 1}})')
    assert bad.status == "failed" and "does not match its input_schema" in bad.error["message"]
    name = f"self_{uuid.uuid4().hex[:8]}"
    async with get_sessionmaker(runner.settings.DATABASE_URL)() as session, session.begin():
        await create_task(session, name=name, cy_name=name, script=f'return app::tasks::run("{name}")')
    recursive = await runner.run(f'return app::tasks::run("{name}")')
    assert recursive.status == "failed"
    assert "at most 5 runs deep" in recursive.error["message"]
