"""Human-in-the-loop end to end: the API, PostgreSQL, the Temporal dev server and a worker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from persistence.db import get_sessionmaker
from persistence.models import AnswerAudit

from hitl_helpers import make_key, start_script, wait_question, wait_status

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

PROBLEM = "https://cytasks.dev/problems/"

APPROVE = """
decision = app::human::ask("Ship release ${input.version}?", responses=["yes", "no"])
log("decision: ${decision}")
return {"version": input.version, "decision": decision}
"""


async def audit_rows(settings, question_id: str) -> list[AnswerAudit]:
    async with get_sessionmaker(settings.DATABASE_URL)() as session:
        rows = await session.execute(
            select(AnswerAudit).where(AnswerAudit.question_id == uuid.UUID(question_id)).order_by(AnswerAudit.id)
        )
        return list(rows.scalars())


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == PROBLEM + slug, body
    return body


async def test_pause_list_answer_complete(api, hitl_settings):
    run_id = await start_script(api, APPROVE, {"version": "1.2"})
    question = await wait_question(api, run_id)
    assert question["question"] == "Ship release 1.2?"
    assert question["responses"] == ["yes", "no"]
    assert question["tool"] == "app::human::ask"
    assert (question["line"], question["column"]) == (2, 12)
    assert question["timeout_at"] is None

    listed = (await api.get("/v1/questions", params={"run": run_id, "status": "pending"})).json()
    assert [q["id"] for q in listed["items"]] == [question["id"]]
    assert (await api.get("/v1/questions", params={"run": run_id, "status": "answered"})).json()["items"] == []

    response = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes"})
    assert response.status_code == 202, response.text
    answered = response.json()
    assert answered["status"] == "answered" and answered["answer"] == "yes"
    assert answered["answered_by"] == "bootstrap-admin"

    run = await wait_status(api, run_id, "completed")
    assert run["output"] == {"version": "1.2", "decision": "yes"}
    logs = (await api.get(f"/v1/task-runs/{run_id}/logs")).json()["items"]
    assert "decision: yes" in [line["message"] for line in logs]

    audit = await audit_rows(hitl_settings, question["id"])
    assert [(a.outcome, a.answer, a.answered_by, a.source, a.client_address) for a in audit] == [
        ("accepted", "yes", "bootstrap-admin", "api", "203.0.113.7")
    ]
    stored = (await api.get(f"/v1/questions/{question['id']}")).json()
    assert stored["status"] == "answered" and stored["answer_source"] == "api"


async def test_wrong_answers_are_rejected_and_change_nothing(api, hitl_settings):
    run_id = await start_script(api, APPROVE, {"version": "2"})
    question = await wait_question(api, run_id)

    body = assert_problem(await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "maybe"}), 422, "invalid-answer")
    assert "'maybe' is not one of the allowed responses: 'yes', 'no'" in body["detail"]
    assert body["errors"][0]["field"] == "answer"

    body = assert_problem(await api.post(f"/v1/task-runs/{run_id}/respond", json={"answr": "yes"}), 422, "validation-error")
    assert {e["field"] for e in body["errors"]} == {"answer", "answr"}
    assert_problem(
        await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes", "question_id": str(uuid.uuid4())}),
        404,
        "not-found",
    )
    assert_problem(await api.post(f"/v1/task-runs/{uuid.uuid4()}/respond", json={"answer": "yes"}), 404, "not-found")

    assert (await api.get(f"/v1/task-runs/{run_id}")).json()["status"] == "paused"
    assert (await api.get(f"/v1/questions/{question['id']}")).json()["status"] == "pending"
    response = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "no", "question_id": question["id"]})
    assert response.status_code == 202, response.text
    run = await wait_status(api, run_id, "completed")
    assert run["output"]["decision"] == "no"
    outcomes = [a.outcome for a in await audit_rows(hitl_settings, question["id"])]
    assert outcomes == ["invalid", "accepted"]


async def test_second_answer_gets_409(api, hitl_settings):
    run_id = await start_script(api, APPROVE, {"version": "3"})
    question = await wait_question(api, run_id)
    first = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes", "question_id": question["id"]})
    assert first.status_code == 202, first.text
    second = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "no", "question_id": question["id"]})
    body = assert_problem(second, 409, "question-closed")
    assert "already answered by bootstrap-admin" in body["detail"]
    run = await wait_status(api, run_id, "completed")
    assert run["output"]["decision"] == "yes"
    stored = (await api.get(f"/v1/questions/{question['id']}")).json()
    assert stored["answer"] == "yes"
    # Without a question id, a finished run has nothing to answer.
    assert_problem(await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "no"}), 409, "no-open-question")
    assert [a.outcome for a in await audit_rows(hitl_settings, question["id"])] == ["accepted", "conflict"]


async def test_only_assignees_may_answer(api, hitl_settings, unique):
    outsider = await make_key(hitl_settings, f"outsider-{unique}", ["approver"])
    analyst = await make_key(hitl_settings, f"analyst-{unique}", ["approver", "soc-analyst"])
    script = 'return app::human::ask("Close the incident?", responses="yes,no", assignees=["soc-analyst", "lead-' + unique + '"])'
    run_id = await start_script(api, script)
    question = await wait_question(api, run_id)
    assert question["assignees"] == ["soc-analyst", f"lead-{unique}"]

    listed = (await api.get("/v1/questions", params={"assignee": "soc-analyst", "status": "pending"})).json()
    assert question["id"] in [q["id"] for q in listed["items"]]

    forbidden = await api.post(
        f"/v1/task-runs/{run_id}/respond",
        json={"answer": "yes"},
        headers={"Authorization": f"Bearer {outsider}"},
    )
    body = assert_problem(forbidden, 403, "not-an-assignee")
    assert f"outsider-{unique}" in body["detail"] and "soc-analyst" in body["detail"]

    allowed = await api.post(
        f"/v1/task-runs/{run_id}/respond", json={"answer": "no"}, headers={"Authorization": f"Bearer {analyst}"}
    )
    assert allowed.status_code == 202, allowed.text
    run = await wait_status(api, run_id, "completed")
    assert run["output"] == "no"
    audit = await audit_rows(hitl_settings, question["id"])
    assert [(a.outcome, a.answered_by) for a in audit] == [
        ("forbidden", f"outsider-{unique}"),
        ("accepted", f"analyst-{unique}"),
    ]


async def test_an_admin_may_answer_any_question_as_a_recorded_override(api, hitl_settings, unique):
    run_id = await start_script(api, f'return app::human::ask("Go?", responses="yes,no", assignees="lead-{unique}")')
    question = await wait_question(api, run_id)
    allowed = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes"})
    assert allowed.status_code == 202, allowed.text
    assert (await wait_status(api, run_id, "completed"))["output"] == "yes"
    audit = await audit_rows(hitl_settings, question["id"])
    assert [(a.outcome, a.answered_by, a.reason) for a in audit] == [
        ("accepted", "bootstrap-admin", "admin override: not an assignee")
    ]
    entries = (await api.get("/v1/audit", params={"target_id": question["id"]})).json()["items"]
    assert [(e["action"], e["actor"], e["details"]["override"]) for e in entries] == [
        ("question.answer", "bootstrap-admin", True)
    ]


async def test_form_answers_are_validated_against_the_schema(api):
    script = """
form = {"type": "object", "required": ["severity"], "additionalProperties": False,
        "properties": {"severity": {"type": "integer", "minimum": 1, "maximum": 5}, "note": {"type": "string"}}}
answer = app::human::ask("Rate the alert", form=form)
return answer.severity * 10
"""
    run_id = await start_script(api, script)
    question = await wait_question(api, run_id)
    assert question["form"]["required"] == ["severity"]
    bad = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": {"severity": 9}})
    body = assert_problem(bad, 422, "invalid-answer")
    assert body["errors"][0]["path"] == "$.answer.severity"
    assert "9 is greater than the maximum of 5" in body["detail"]
    assert_problem(await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "high"}), 422, "invalid-answer")
    ok = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": {"severity": 4, "note": "noisy"}})
    assert ok.status_code == 202, ok.text
    assert (await wait_status(api, run_id, "completed"))["output"] == 40


async def test_timeout_returns_the_default(api):
    script = 'a = app::human::ask("Proceed?", responses=["go", "stop"], timeout_seconds=1.5, default="stop")\nreturn a'
    run_id = await start_script(api, script)
    question = await wait_question(api, run_id)
    assert question["timeout_seconds"] == 1.5 and question["has_default"] and question["default"] == "stop"
    assert question["timeout_at"] is not None
    run = await wait_status(api, run_id, "completed", timeout=30)
    assert run["output"] == "stop"
    stored = (await api.get(f"/v1/questions/{question['id']}")).json()
    assert stored["status"] == "expired" and stored["closed_reason"] == "timeout"
    assert_problem(
        await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "go", "question_id": question["id"]}),
        409,
        "question-closed",
    )


async def test_timeout_without_default_fails_the_run(api):
    script = 'x = 1\nanswer = app::human::ask("Anyone?", timeout_seconds=1)\nreturn answer'
    run_id = await start_script(api, script)
    await wait_question(api, run_id)
    run = await wait_status(api, run_id, "failed", timeout=30)
    assert run["error"]["type"] == "HumanResponseTimeout"
    assert (run["error"]["line"], run["error"]["column"]) == (2, 10)
    assert "within 1 seconds" in run["error"]["message"]
    questions = (await api.get(f"/v1/task-runs/{run_id}/questions")).json()["items"]
    assert [q["status"] for q in questions] == ["expired"]


async def test_two_pauses_in_sequence_and_in_a_loop(api):
    script = """
first = app::human::ask("Name?")
answers = []
for (i in range(2)) {
    answers = answers + [app::human::ask("Round ${i}?", responses=[1, 2, 3])]
}
last = app::human::ask("Sure?", responses="yes,no")
return {"first": first, "rounds": answers, "last": last}
"""
    run_id = await start_script(api, script)
    given = ["Ada", 2, 3, "yes"]
    for number, answer in enumerate(given, start=1):
        question = await wait_question(api, run_id, count=number)
        response = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": answer})
        assert response.status_code == 202, (number, response.text)
        assert response.json()["id"] == question["id"]
    run = await wait_status(api, run_id, "completed")
    assert run["output"] == {"first": "Ada", "rounds": [2, 3], "last": "yes"}
    questions = (await api.get(f"/v1/task-runs/{run_id}/questions")).json()["items"]
    assert [q["question"] for q in questions] == ["Name?", "Round 0?", "Round 1?", "Sure?"]
    assert all(q["status"] == "answered" for q in questions)


async def test_cancel_while_paused_expires_the_question(api):
    run_id = await start_script(api, 'return app::human::ask("Wait for me?")')
    question = await wait_question(api, run_id)
    response = await api.post(f"/v1/task-runs/{run_id}/cancel")
    assert response.status_code == 202, response.text
    run = await wait_status(api, run_id, "cancelled")
    assert run["error"]["type"] == "Cancelled"
    stored = (await api.get(f"/v1/questions/{question['id']}")).json()
    assert stored["status"] == "expired" and stored["closed_reason"] == "cancelled"
    assert_problem(await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "x"}), 409, "no-open-question")


async def test_hand_sent_signals_are_validated_in_the_workflow(api, temporal, hitl_settings):
    run_id = await start_script(api, 'return app::human::ask("Pick", responses=["a", "b"], assignees="ops")')
    question = await wait_question(api, run_id)
    handle = temporal.get_workflow_handle(f"taskrun-{run_id}")
    await handle.signal("human_responded", "just a string")
    await handle.signal("human_responded", {"answer": "c", "answered_by": "ops"})
    await handle.signal("human_responded", {"answer": "a", "answered_by": "mallory"})
    await handle.signal("human_responded", {"answer": "a", "answered_by": "ops", "question_id": str(uuid.uuid4())})
    await handle.signal("human_responded", {"answer": "a", "answered_by": "ops", "colour": "red"})
    for _ in range(100):
        rejected = await handle.query("rejected_signals")
        if len(rejected) == 5:
            break
        await asyncio.sleep(0.05)
    reasons = [entry["reason"] for entry in rejected]
    assert reasons[0].startswith("the signal must be a JSON object")
    assert "'c' is not one of the allowed responses" in reasons[1]
    assert "'mallory' is not among the assignees (ops)" in reasons[2]
    assert "is not the open question" in reasons[3]
    assert "unknown field(s) colour" in reasons[4]
    assert (await api.get(f"/v1/task-runs/{run_id}")).json()["status"] == "paused"
    pending = await handle.query("pending_question")
    assert pending["id"] == question["id"]

    await handle.signal("human_responded", {"answer": "b", "answered_by": "ops", "question_id": question["id"]})
    run = await wait_status(api, run_id, "completed")
    assert run["output"] == "b"
    stored = (await api.get(f"/v1/questions/{question['id']}")).json()
    assert (stored["status"], stored["answered_by"], stored["answer_source"]) == ("answered", "ops", "temporal-ui")
    audit = await audit_rows(hitl_settings, question["id"])
    assert [(a.outcome, a.source, a.client_address) for a in audit] == [("accepted", "temporal-ui", "temporal-ui")]
    logs = [line["message"] for line in (await api.get(f"/v1/task-runs/{run_id}/logs")).json()["items"]]
    assert sum(message.startswith("Ignored a human_responded signal") for message in logs) == 5


async def test_bad_question_arguments_fail_at_the_call(api):
    run_id = await start_script(api, 'x = 1\nreturn app::human::ask("Pick", responses=[], timeout_seconds=5)')
    run = await wait_status(api, run_id, "failed")
    assert run["error"]["type"] == "ToolInvocationError"
    assert run["error"]["message"] == "responses must name at least one allowed answer"
    assert (run["error"]["line"], run["error"]["column"]) == (2, 8)

    run_id = await start_script(api, 'return app::human::ask("Pick", form={"type": "nope"})')
    run = await wait_status(api, run_id, "failed")
    assert "form is not a valid JSON Schema" in run["error"]["message"]


async def test_question_list_filters_and_pagination(api, unique):
    task = (await api.post("/v1/tasks", json={"name": f"Ask {unique}", "script": 'return app::human::ask("Q ${input}")'})).json()
    run_ids = []
    for n in range(3):
        response = await api.post(f"/v1/tasks/{task['cy_name']}/execute", json={"input": n})
        assert response.status_code == 202, response.text
        run_ids.append(response.json()["id"])
    for run_id in run_ids:
        await wait_question(api, run_id)
    page = (await api.get("/v1/questions", params={"task": task["cy_name"], "limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (await api.get("/v1/questions", params={"task": task["id"], "limit": 2, "cursor": page["next_cursor"]})).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    texts = [q["question"] for q in page["items"] + rest["items"]]
    assert texts == ["Q 2", "Q 1", "Q 0"]
    assert_problem(await api.get("/v1/questions", params={"status": "open"}), 422, "validation-error")
    assert_problem(await api.get("/v1/questions", params={"run": "nope"}), 422, "validation-error")
    assert_problem(await api.get("/v1/questions", params={"cursor": "garbage"}), 400, "invalid-cursor")
    for run_id in run_ids:
        assert (await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "done"})).status_code == 202
    for run_id in run_ids:
        await wait_status(api, run_id, "completed")


async def test_a_forged_api_answer_is_rejected_and_audited(api, temporal, hitl_settings):
    """Someone with Temporal UI access claims `via_api`: the workflow checks the claim against
    what the API recorded, finds nothing, refuses the answer and keeps waiting."""
    run_id = await start_script(api, 'return app::human::ask("Block?", responses=["yes", "no"], assignees="ops")')
    question = await wait_question(api, run_id)
    handle = temporal.get_workflow_handle(f"taskrun-{run_id}")
    forged = {"question_id": question["id"], "answer": "yes", "answered_by": "ops", "via_api": True}
    await handle.signal("human_responded", forged)
    for _ in range(200):
        rejected = await handle.query("rejected_signals")
        if rejected:
            break
        await asyncio.sleep(0.05)
    assert "the API recorded no answer" in rejected[0]["reason"]
    assert (await api.get(f"/v1/task-runs/{run_id}")).json()["status"] == "paused"
    stored = (await api.get(f"/v1/questions/{question['id']}")).json()
    assert stored["status"] == "pending"
    audit = await audit_rows(hitl_settings, question["id"])
    assert [(a.outcome, a.answered_by) for a in audit] == [("forbidden", "ops")]

    ops_key = await make_key(hitl_settings, "ops", ["approver"])
    response = await api.post(
        f"/v1/task-runs/{run_id}/respond", json={"answer": "no"}, headers={"Authorization": f"Bearer {ops_key}"}
    )
    assert response.status_code == 202, response.text
    run = await wait_status(api, run_id, "completed")
    assert run["output"] == "no"
    audit = await audit_rows(hitl_settings, question["id"])
    assert [a.outcome for a in audit] == ["forbidden", "accepted"]
