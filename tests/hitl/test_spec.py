"""Questions built from calls and answers checked against them (no stack needed)."""

from __future__ import annotations

import pytest

from cy.tools import ToolRegistry
from hitl.spec import (
    QuestionError,
    build_question,
    may_answer,
    normalize_responses,
    question_from_call,
    validate_answer,
)
from cli.question_commands import parse_answer
from hitl.tool import register_human_tools


@pytest.fixture
def ask():
    registry = ToolRegistry()
    register_human_tools(registry)
    return registry.get("app::human::ask")


def test_responses_from_a_list_or_a_comma_separated_string():
    assert normalize_responses("Approve,Reject, Escalate ,") == ["Approve", "Reject", "Escalate"]
    assert normalize_responses([1, "two", True]) == [1, "two", True]
    assert normalize_responses(None) is None
    with pytest.raises(QuestionError, match="at least one"):
        normalize_responses(" , ")
    with pytest.raises(QuestionError, match="list or a comma-separated string, got integer"):
        normalize_responses(3)
    with pytest.raises(QuestionError, match="string, number or boolean, got object"):
        normalize_responses([{"a": 1}])


def test_ask_arguments_positional_and_named(ask):
    spec = question_from_call(ask, ("Go?", "yes,no", 60), {"default": "no", "assignees": "ops, lead"})
    assert (spec.question, spec.responses, spec.timeout_seconds) == ("Go?", ["yes", "no"], 60.0)
    assert (spec.default, spec.has_default, spec.assignees) == ("no", True, ["ops", "lead"])
    assert question_from_call(ask, ("Go?",), {}).has_default is False
    assert question_from_call(ask, ("Go?",), {"default": None}).has_default is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"question": ""}, "question must be a non-empty string"),
        ({"question": "q", "timeout_seconds": 0}, "timeout_seconds must be greater than 0"),
        ({"question": "q", "timeout_seconds": "5"}, "timeout_seconds must be a number, got string"),
        ({"question": "q", "form": {"type": 5}}, "form is not a valid JSON Schema"),
        ({"question": "q", "form": {"type": "object"}, "responses": ["a"]}, "either responses or form"),
        ({"question": "q", "responses": ["a"], "default": "b"}, "default is not an allowed answer"),
        ({"question": "q", "assignees": [""]}, "assignees must be non-empty strings"),
    ],
)
def test_bad_questions_say_what_is_wrong(kwargs, message):
    with pytest.raises(QuestionError, match=message):
        build_question(kwargs)


def test_answers_against_responses_and_forms():
    question = build_question({"question": "q", "responses": ["yes", 1, True]}).to_dict()
    assert validate_answer(question, "yes") == []
    assert validate_answer(question, 1) == []
    assert validate_answer(question, True) == []
    assert validate_answer(question, 1.0) == []
    problems = validate_answer(question, "Yes")
    assert problems[0]["message"] == "'Yes' is not one of the allowed responses: 'yes', 1, true"
    assert validate_answer({"responses": [1]}, True)  # true is not 1
    form = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    assert validate_answer({"form": form}, {"n": 2}) == []
    assert validate_answer({"form": form}, {"n": "2"})[0]["path"] == "$.answer.n"
    assert validate_answer({}, None)[0]["message"] == "an answer is required"
    assert validate_answer({}, {"free": "text"}) == []


def test_generic_hi_latency_tool_without_a_mapping():
    registry = ToolRegistry()

    def page(text: str, responses: str = "", channel: str = "ops") -> str:
        return ""

    spec = question_from_call(registry.register("app::pager::page", page, hi_latency=True), ("Wake up?",), {"responses": "ok"})
    assert (spec.question, spec.responses, spec.details) == ("Wake up?", ["ok"], {})
    spec = question_from_call(registry.get("app::pager::page"), ("Up?", "ok"), {"channel": "sre"})
    assert spec.details == {"channel": "sre"}


def test_assignees_are_names_or_roles():
    assert may_answer([], "anyone")
    assert may_answer(["ops"], "ops")
    assert may_answer(["soc"], "alice", ("soc", "admin"))
    assert not may_answer(["soc"], "alice", ("admin",))
    assert not may_answer(["soc"], None)


def test_answers_parse_as_json_when_they_can():
    assert parse_answer("yes") == "yes"
    assert parse_answer("true") is True
    assert parse_answer("3") == 3
    assert parse_answer('{"a": 1}') == {"a": 1}
    assert parse_answer('"quoted"') == "quoted"
