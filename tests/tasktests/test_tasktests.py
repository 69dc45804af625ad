"""The pure parts of task testing: the output differ, canned answers, and recorded tool calls
read from recorded workflow histories (regular activities, a failed one, local activities)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter

from api.services.runs import decoded_tool_events
from integrations.registry import get_registry
from tasktests import json_diff, parse_samples, recorded_answers, recorded_calls, replay_run, run_samples
from tasktests.samples import SampleError

HISTORIES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"
TOOLS = {"app::test::echo", "app::test::reject", "app::test::flaky_local"}


def test_the_diff_names_paths_and_both_sides():
    assert json_diff({"a": 1, "b": [1, 2]}, {"a": 1.0, "b": [1, 2]}) == []
    assert json_diff(True, 1) == [{"path": "$", "kind": "changed", "expected": True, "actual": 1}]
    assert json_diff({"a": {"b": [1, 2, 3]}, "odd key": 1}, {"a": {"b": [1, 5]}, "new": None}) == [
        {"path": "$.a.b[1]", "kind": "changed", "expected": 2, "actual": 5},
        {"path": "$.a.b[2]", "kind": "missing", "expected": 3},
        {"path": "$['odd key']", "kind": "missing", "expected": 1},
        {"path": "$.new", "kind": "unexpected", "actual": None},
    ]
    assert json_diff({"a": [1]}, {"a": {"0": 1}}) == [{"path": "$.a", "kind": "changed", "expected": [1], "actual": {"0": 1}}]
    assert len(json_diff(list(range(500)), [], limit=10)) == 10


def test_samples_are_refused_with_the_place_at_fault():
    registry = get_registry()
    for raw, path in [
        ([{"input": 1, "tool_results": {"llm_run": 5}}], "$[0].tool_results.llm_run"),
        ([{"tool_results": {"llm_run": [{"result": 1, "error": "x"}]}}], "$[0].tool_results.llm_run[0]"),
        ([{"tool_results": {"sleep": {"result": None}}}], "$[0].tool_results.sleep"),
        ([{"tool_results": {"llm_run": {"result": 1}, "native::tools::llm_run": {"result": 2}}}], "$[0].tool_results['native::tools::llm_run']"),
        ([{"expected": 1}], "$[0].expected"),
        ([3], "$[0]"),
    ]:
        with pytest.raises(SampleError) as caught:
            parse_samples(raw, registry)
        assert caught.value.path == path, caught.value


def test_a_missing_answer_cannot_be_caught_and_sleep_does_not_wait():
    registry = get_registry()
    script = 'sleep(3600)\ntry {\n  x = llm_run("hi")\n} catch (e) {\n  x = "caught"\n}\nreturn x'
    [report] = run_samples(script, parse_samples([{"input": None}], registry))
    assert report.error["type"] == "MissingToolResult" and report.error["line"] == 3
    [bad_sleep] = run_samples("sleep(-1)\nreturn 1", parse_samples([{}], registry))
    assert bad_sleep.error["type"] == "ToolInvocationError" and "sleep()" in bad_sleep.error["message"]


async def recorded(name: str) -> list:
    history = WorkflowHistory.from_json(f"taskrun-{name}", json.loads((HISTORIES / f"{name}.json").read_text()))
    events = await decoded_tool_events(history.events, DataConverter.default, TOOLS)
    return recorded_calls(events, TOOLS)


async def test_regular_activities_are_read_with_their_arguments_and_results():
    calls = await recorded("tool_calls")
    assert [(c.fqn, c.args, c.kwargs, c.result, c.local) for c in calls] == [
        ("app::test::echo", ["x"], {}, "x", False),
        ("app::test::echo", [], {"value": ["x", "x"]}, ["x", "x"], False),
    ]
    answers = recorded_answers(calls)
    assert [a.result for a in answers["app::test::echo"].answers] == ["x", ["x", "x"]]


async def test_a_failed_activity_is_replayed_as_the_same_failure():
    [call] = await recorded("tool_error_caught")
    assert call.fqn == "app::test::reject" and call.error == "reject() refused 1" and call.completed
    [answer] = recorded_answers([call])["app::test::reject"].answers
    assert answer.error == "reject() refused 1"


async def test_local_activity_markers_are_read_in_order():
    calls = await recorded("local_tool_calls")
    assert [(c.fqn, c.result, c.local, c.args) for c in calls] == [
        ("app::test::flaky_local", 1, True, None),
        ("app::test::flaky_local", 2, True, None),
    ]


def test_a_replay_compares_with_the_recorded_output_and_refuses_extra_calls():
    calls = recorded_answers([])
    same = replay_run("return input * 2", 4, calls, 8)
    assert same["outcome"] == "same" and same["diff"] == []
    different = replay_run("return input * 3", 4, calls, 8)
    assert different["outcome"] == "different"
    assert different["diff"] == [{"path": "$", "kind": "changed", "expected": 8, "actual": 12}]
    extra = replay_run('return llm_run("more")', 4, calls, 8)
    assert extra["outcome"] == "failed" and extra["error"]["type"] == "MissingToolResult"
    assert "the recorded run" in extra["error"]["message"] and "line 1" in extra["error"]["message"]


def test_samples_past_the_time_budget_are_reported_not_run():
    registry = get_registry()
    reports = run_samples("return input", parse_samples([{"input": 1}, {"input": 2}], registry), budget_seconds=-1)
    assert [report.passed for report in reports] == [False, False]
    assert all(report.reason.startswith("not run: the test used up its time budget") for report in reports)
