"""Tools that run as local activities: declared ``local=True``, or calls that bound their own
duration to a few seconds (``app::http::request(..., timeout=5)``). Same retry policy as a
regular activity, no activity task on the server."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType

from cy.tools import RetryPolicy, ToolRegistry
from tests.engine.test_builtin_tools import LocalServer, http_app

pytestmark = pytest.mark.stack


async def scheduled_activity_types(runner, run_id: str) -> list[str]:
    history = await runner.client.get_workflow_handle(f"taskrun-{run_id}").fetch_history()
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def local_activity_markers(runner, run_id: str) -> int:
    history = await runner.client.get_workflow_handle(f"taskrun-{run_id}").fetch_history()
    return sum(1 for event in history.events if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED)


async def test_a_local_tool_is_retried_by_its_policy_without_an_activity_task(runner, tmp_path):
    counter = tmp_path / "flaky.txt"
    row = await runner.run(f'return app::test::flaky_local("{counter}", 2)')
    assert row.status == "completed", row.error
    assert row.output_inline == 3
    assert counter.read_text().splitlines() == ["flaky"] * 3
    assert "app::test::flaky_local" not in await scheduled_activity_types(runner, str(row.id))
    assert await local_activity_markers(runner, str(row.id)) >= 1


async def test_a_local_tool_that_keeps_failing_fails_the_run_after_its_attempts(runner, tmp_path):
    counter = tmp_path / "flaky.txt"
    row = await runner.run(f'return app::test::flaky_local("{counter}", 10)')
    assert row.status == "failed"
    assert row.error["type"] == "ToolInvocationError"
    assert "flaky failure 3" in row.error["message"]
    assert (row.error["line"], row.error["column"]) == (1, 8)
    assert len(counter.read_text().splitlines()) == 3


async def test_an_http_call_with_a_short_timeout_runs_locally(runner):
    seen: list[dict] = []
    with LocalServer(http_app(seen)) as server:
        short = await runner.run('return app::http::request("GET", "${input}/items/1", timeout=5).status', server.url)
        default = await runner.run('return app::http::request("GET", "${input}/items/2").status', server.url)
    assert (short.status, short.output_inline) == ("completed", 200)
    assert (default.status, default.output_inline) == ("completed", 200)
    assert "app::http::request" not in await scheduled_activity_types(runner, str(short.id))
    assert "app::http::request" in await scheduled_activity_types(runner, str(default.id))
    assert len(seen) == 2


def noop(x=None):
    return x


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"local": True, "hi_latency": True}, "cannot run as a local activity"),
        ({"local": True, "timeout_seconds": 120}, "timeout_seconds must be at most 60"),
        ({"timeout_param": "seconds"}, "has no parameter 'seconds'"),
    ],
)
def test_registering_a_local_tool_checks_what_it_can_be(flags, message):
    with pytest.raises(ValueError, match=message):
        ToolRegistry().register("app::test::noop", noop, retry=RetryPolicy(), **flags)
