"""The built-in webhook notifier: questions are POSTed as JSON; a failing webhook fails nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hitl.settings import get_hitl_settings

from hitl_helpers import wait_question, wait_status

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]


class Hook:
    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[dict, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append((dict(self.headers), json.loads(body), body))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def webhook(monkeypatch):
    hooks = []

    def make(status: int = 204, secret: str | None = None) -> Hook:
        hook = Hook(status)
        hooks.append(hook)
        monkeypatch.setenv("CYTASKS_HITL_WEBHOOK_URL", hook.url)
        monkeypatch.setenv("CYTASKS_HITL_PUBLIC_API_URL", "https://cytasks.example.com/")
        if secret:
            monkeypatch.setenv("CYTASKS_HITL_WEBHOOK_SECRET", secret)
        get_hitl_settings.cache_clear()
        return hook

    yield make
    for hook in hooks:
        hook.close()
    monkeypatch.delenv("CYTASKS_HITL_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("CYTASKS_HITL_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("CYTASKS_HITL_PUBLIC_API_URL", raising=False)
    get_hitl_settings.cache_clear()


async def wait_notification(api, question_id: str) -> dict:
    import asyncio

    for _ in range(200):
        question = (await api.get(f"/v1/questions/{question_id}")).json()
        if question.get("notification"):
            return question["notification"]
        await asyncio.sleep(0.05)
    raise AssertionError("the notification was never recorded")


async def test_webhook_receives_the_question(api, webhook):
    hook = webhook(204, secret="s3cret")
    from hitl_helpers import start_script

    run_id = await start_script(api, 'return app::human::ask("Deploy?", responses=["yes", "no"], timeout_seconds=600)')
    question = await wait_question(api, run_id)
    assert (await wait_notification(api, question["id"]))["status"] == "delivered"
    headers, body, raw = hook.requests[0]
    assert body["event"] == "question.created"
    assert body["question"]["id"] == question["id"] and body["question"]["responses"] == ["yes", "no"]
    assert body["respond"]["url"] == f"https://cytasks.example.com/v1/task-runs/{run_id}/respond"
    expected = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert headers["X-Cytasks-Signature"] == expected
    assert (await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes"})).status_code == 202
    assert (await wait_status(api, run_id, "completed"))["output"] == "yes"


async def test_failing_webhook_does_not_fail_the_run(api, webhook):
    hook = webhook(500)
    from hitl_helpers import start_script

    run_id = await start_script(api, 'return app::human::ask("Still there?")')
    question = await wait_question(api, run_id)
    notification = await wait_notification(api, question["id"])
    assert notification["status"] == "failed"
    assert "answered HTTP 500" in notification["error"]
    assert hook.requests
    assert (await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes"})).status_code == 202
    run = await wait_status(api, run_id, "completed")
    assert run["output"] == "yes"
