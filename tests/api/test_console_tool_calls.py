"""The run page's tool calls, read from recorded workflow histories: regular activities paired
with their start and end, a failed one, local activities from their markers, and the engine's
own activities left out."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.client import WorkflowHistory

from api.services.runs import tool_calls_in_history

HISTORIES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"
TOOLS = {"app::test::echo", "app::test::reject", "app::test::flaky_local"}


def calls(name: str) -> list[dict]:
    history = WorkflowHistory.from_json(f"taskrun-{name}", json.loads((HISTORIES / f"{name}.json").read_text()))
    return tool_calls_in_history(history.events, TOOLS)


def test_regular_activities_have_their_attempt_start_and_duration():
    found = calls("tool_calls")
    assert [(c["name"], c["attempt"], c["outcome"], c["local"]) for c in found] == [
        ("app::test::echo", 1, "completed", False),
        ("app::test::echo", 1, "completed", False),
    ]
    for call in found:
        assert call["started"] <= call["ended"]
        assert call["duration_ms"] == round((call["ended"] - call["started"]).total_seconds() * 1000)


def test_a_failed_activity_carries_its_message():
    [call] = calls("tool_error_caught")
    assert call["outcome"] == "failed" and call["message"] == "reject() refused 1"


def test_local_activities_come_from_their_markers_and_bookkeeping_is_left_out():
    found = calls("local_tool_calls")
    assert [(c["name"], c["local"], c["outcome"]) for c in found] == [
        ("app::test::flaky_local", True, "completed"),
        ("app::test::flaky_local", True, "completed"),
    ]
    # These markers' schedule times are later than their completion: no start, no duration.
    assert all(c["ended"] is not None and c["started"] is None and c["duration_ms"] is None for c in found)
    assert calls("pure_computation") == []
