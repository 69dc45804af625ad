"""Approval scripts that ask on a Slack-like hi-latency tool, answered through the API.

The Analysi script ``slack_disposition_approval_request`` comes from the public repository
``open-analysi/analysi-app`` (``content/foundation/tasks/``). That repository is
AGPL-3.0-or-later, so the file is not copied here: it is read from ``$ANALYSI_APP_DIR`` or
``<repo>/../analysi-app`` and the test is skipped when neither exists. ``OWN_APPROVAL`` is
a script of the same shape that always runs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import hitl_plugin
from hitl_helpers import wait_question, wait_status

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = Path(os.environ.get("ANALYSI_APP_DIR") or REPO_ROOT.parent / "analysi-app")
ANALYSI_SCRIPT = CHECKOUT / "content/foundation/tasks/slack_disposition_approval_request.cy"

OWN_APPROVAL = '''
# Ask the on-call engineer before a host is isolated.
host = input.host ?? "unknown host"
room = input.settings.room ?? "incident-response"
app::slack::create_channel(name=room)

prompt = """Containment request

Host: ${host}
Reason: ${input.reason ?? "not given"}

Isolate this host now?"""

choice = app::slack::ask_question_channel(destination="#${room}", question=prompt, responses="Isolate, Wait, Ignore")

outcomes = {"Isolate": "isolated", "Wait": "deferred"}
outcome = outcomes[choice] ?? "ignored"
return enrich_alert(input, {"containment": outcome, "approved_by_human": choice == "Isolate", "room": room})
'''

ALERT = {
    "alert_id": "AL-1042",
    "title": "Suspicious PowerShell download cradle",
    "severity": "high",
    "enrichments": {"alert_disposition_determination": {"ai_analysis": "True Positive - malicious"}},
    "config": {"slack_channel": "soc-approvals"},
}


async def notices_of(question_id: str) -> list[dict]:
    """The notices the plugin's notifier delivered for a question (it runs beside the wait)."""
    for _ in range(200):
        found = [n for n in hitl_plugin.NOTICES if n["question"]["id"] == question_id]
        if found:
            return found
        await asyncio.sleep(0.05)
    return []


async def run_task(api, unique: str, name: str, script: str, input: dict) -> str:
    created = await api.post("/v1/tasks", json={"name": f"{name} {unique}", "script": script})
    assert created.status_code == 201, created.text
    response = await api.post(f"/v1/tasks/{created.json()['cy_name']}/execute", json={"input": input})
    assert response.status_code == 202, response.text
    return response.json()["id"]


@pytest.mark.skipif(not ANALYSI_SCRIPT.is_file(), reason=f"no Analysi checkout at {CHECKOUT}")
@pytest.mark.parametrize(
    ("answer", "decision"), [("Approve", "approved"), ("Reject", "rejected"), ("Escalate", "escalated")]
)
async def test_analysi_disposition_approval(api, unique, answer, decision):
    script = ANALYSI_SCRIPT.read_text(encoding="utf-8")
    run_id = await run_task(api, unique + answer.lower(), "Disposition approval", script, ALERT)
    question = await wait_question(api, run_id)
    assert question["tool"] == "app::slack::ask_question_channel"
    assert question["responses"] == ["Approve", "Reject", "Escalate"]
    assert question["details"] == {"destination": "#soc-approvals"}
    assert "Alert: Suspicious PowerShell download cradle" in question["question"]
    assert "Proposed Disposition: True Positive - malicious" in question["question"]
    notices = await notices_of(question["id"])
    assert len(notices) == 1 and notices[0]["respond"]["path"] == f"/v1/task-runs/{run_id}/respond"

    bad = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "approve"})
    assert bad.status_code == 422, bad.text
    response = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": answer})
    assert response.status_code == 202, response.text
    run = await wait_status(api, run_id, "completed")
    enrichment = run["output"]["enrichments"]["hitl_approval"]
    assert enrichment["decision"] == decision
    assert enrichment["disposition"] == "True Positive - malicious"
    assert enrichment["channel"] == "soc-approvals"
    assert enrichment["disposition_confirmed"] is (answer == "Approve")


async def test_own_approval_script(api, unique):
    run_id = await run_task(
        api, unique, "Containment approval", OWN_APPROVAL,
        {"host": "ws-0193", "reason": "beaconing", "settings": {"room": "ir-oncall"}},
    )
    question = await wait_question(api, run_id)
    assert question["responses"] == ["Isolate", "Wait", "Ignore"]
    assert question["details"] == {"destination": "#ir-oncall"}
    assert question["question"].startswith("Containment request\n\nHost: ws-0193")
    assert len(await notices_of(question["id"])) == 1
    response = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "Isolate"})
    assert response.status_code == 202, response.text
    run = await wait_status(api, run_id, "completed")
    assert run["output"]["enrichments"]["hitl_approval"] == {
        "containment": "isolated",
        "approved_by_human": True,
        "room": "ir-oncall",
    }
