"""The operator console under /ui, driven over HTTP: sign-in and its cookie, CSRF on every
form, what each role is offered, and every page and form (runs, a run, approvals, tasks, the
dashboard) against the real stack."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from app_fixture import TEST_BASE_URL

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    found = TOKEN.search(html)
    assert found, html[:2000]
    return found.group(1)


async def sign_in(browser: httpx.AsyncClient, key: str, next_page: str = "/ui") -> httpx.Response:
    page = await browser.get("/ui/login", params={"next": next_page})
    assert page.status_code == 200
    return await browser.post("/ui/login", data={"api_key": key, "csrf_token": csrf(page.text), "next": next_page})


@pytest_asyncio.fixture(loop_scope="session")
async def browser(app) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar and no Authorization header, like a browser."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=TEST_BASE_URL, timeout=30) as client:
        yield client


async def make_key(client: httpx.AsyncClient, *roles: str) -> str:
    created = await client.post("/v1/api-keys", json={"name": f"ui-{'-'.join(roles)}-{uuid.uuid4().hex[:8]}", "roles": list(roles)})
    assert created.status_code == 201, created.text
    return created.json()["key"]


@pytest_asyncio.fixture(loop_scope="session")
async def admin(browser, api_settings) -> httpx.AsyncClient:
    response = await sign_in(browser, api_settings.API_KEY)
    assert response.status_code == 303, response.text
    return browser


async def create_task(client: httpx.AsyncClient, unique: str, script: str, **fields) -> dict:
    created = await client.post("/v1/tasks", json={"name": f"Console {unique}", "script": script, **fields})
    assert created.status_code == 201, created.text
    return created.json()


async def wait_status(client: httpx.AsyncClient, run_id: str, wanted: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = (await client.get(f"/v1/task-runs/{run_id}")).json()
        if run["status"] in wanted:
            return run
        assert time.monotonic() < deadline, run
        await asyncio.sleep(0.1)


async def test_pages_need_a_session_and_sign_in_sets_a_strict_http_only_cookie(browser, api_settings) -> None:
    redirected = await browser.get("/ui/runs", params={"status": "failed"})
    assert redirected.status_code == 303
    assert redirected.headers["location"] == "/ui/login?next=/ui/runs%3Fstatus%3Dfailed"
    polled = await browser.get("/ui/runs/table", headers={"HX-Request": "true"})
    assert polled.status_code == 204 and polled.headers["HX-Redirect"].startswith("/ui/login")

    page = await browser.get("/ui/login")
    assert 'name="api_key"' in page.text
    refused = await browser.post("/ui/login", data={"api_key": api_settings.API_KEY, "csrf_token": "forged"})
    assert refused.status_code == 403
    wrong = await browser.post("/ui/login", data={"api_key": "not-a-key", "csrf_token": csrf(page.text)})
    assert wrong.status_code == 401 and "not valid" in wrong.text

    response = await sign_in(browser, api_settings.API_KEY, "/ui/runs?status=failed")
    assert response.status_code == 303 and response.headers["location"] == "/ui/runs?status=failed"
    cookie = next(value for name, value in response.headers.multi_items() if name == "set-cookie" and value.startswith("cytasks_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/ui" in cookie
    assert api_settings.API_KEY not in cookie
    assert (await browser.get("/ui/runs")).status_code == 200
    # Another site cannot be the place sign-in sends you to.
    elsewhere = await sign_in(browser, api_settings.API_KEY, "https://evil.example/")
    assert elsewhere.headers["location"] == "/ui"


async def test_sign_out_ends_the_session_and_a_revoked_key_ends_it_too(browser, client) -> None:
    key = await make_key(client, "viewer")
    assert (await sign_in(browser, key)).status_code == 303
    page = await browser.get("/ui/runs")
    assert page.status_code == 200
    assert (await browser.post("/ui/logout", data={"csrf_token": "wrong"})).status_code == 403
    out = await browser.post("/ui/logout", data={"csrf_token": csrf(page.text)})
    assert out.status_code == 303
    assert (await browser.get("/ui/runs")).status_code == 303

    assert (await sign_in(browser, key)).status_code == 303
    listed = (await client.get("/v1/api-keys")).json()["items"]
    key_id = next(item["id"] for item in listed if item["name"].startswith("ui-viewer") and item["roles"] == ["viewer"] and item["id"])
    for item in listed:
        if item["name"].startswith("ui-viewer-"):
            await client.delete(f"/v1/api-keys/{item['id']}")
    assert key_id
    assert (await browser.get("/ui/runs")).status_code == 303


async def test_static_htmx_is_served_locally(browser) -> None:
    response = await browser.get("/ui/static/htmx.min.js")
    assert response.status_code == 200 and "htmx" in response.text[:200]
    assert (await browser.get("/ui/static/console.css")).status_code == 200


async def test_running_a_task_from_its_generated_form(api_worker, admin, client, unique) -> None:
    task = await create_task(
        client,
        unique,
        'log("scoring ${input.ip}")\nreturn {"ip": input.ip, "score": input.weight * 2, "strict": input.strict}',
        input_schema={
            "type": "object",
            "required": ["ip", "weight"],
            "properties": {
                "ip": {"type": "string", "title": "IP address"},
                "weight": {"type": "integer"},
                "strict": {"type": "boolean"},
                "level": {"enum": ["low", "high"]},
            },
        },
        data_samples=[{"input": {"ip": "10.0.0.9", "weight": 4}, "expected_output": {"score": 8}}],
    )
    page = await admin.get(f"/ui/tasks/{task['cy_name']}")
    assert page.status_code == 200
    assert 'name="field.ip"' in page.text and 'value="10.0.0.9"' in page.text and 'value="4"' in page.text
    assert "&#34;weight&#34;: 4" in page.text  # the raw JSON box, prefilled from the same sample
    assert 'type="checkbox"' in page.text and '<option value="&#34;low&#34;"' in page.text
    token = csrf(page.text)

    bad = await admin.post(
        f"/ui/tasks/{task['id']}/run", data={"csrf_token": token, "mode": "fields", "field.ip": "10.0.0.1", "field.weight": "heavy"}
    )
    assert bad.status_code == 422 and "weight: must be an integer" in bad.text
    missing = await admin.post(f"/ui/tasks/{task['id']}/run", data={"csrf_token": token, "mode": "json", "raw": '{"ip": 5}'})
    assert missing.status_code == 422 and "Input" in missing.text and "role=\"alert\"" in missing.text
    forged = await admin.post(f"/ui/tasks/{task['id']}/run", data={"mode": "json", "raw": '{"ip": "1.1.1.1", "weight": 1}'})
    assert forged.status_code == 403

    started = await admin.post(
        f"/ui/tasks/{task['id']}/run",
        data={"csrf_token": token, "mode": "fields", "field.ip": "10.0.0.1", "field.weight": "21", "field.strict": "true",
              "field.level": '"high"'},
    )
    assert started.status_code == 303, started.text
    run_id = started.headers["location"].rsplit("/", 1)[1]
    run = await wait_status(client, run_id, {"completed", "failed"})
    assert run["status"] == "completed", run
    assert run["output"] == {"ip": "10.0.0.1", "score": 42, "strict": True}
    assert run["trigger"] == "ui" and run["input"]["level"] == "high"

    shown = await admin.get(f"/ui/runs/{run_id}")
    assert shown.status_code == 200 and 'id="run-output"' in shown.text and "scoring 10.0.0.1" in shown.text
    assert "hx-trigger" not in shown.text  # an ended run is not polled
    audit = (await client.get("/v1/audit", params={"action": "run.execute", "target_id": run_id})).json()["items"]
    assert audit and audit[0]["actor"] == "bootstrap-admin" and audit[0]["details"]["trigger"] == "ui"

    listed = await admin.get("/ui/runs", params={"task": task["cy_name"], "status": "completed"})
    assert listed.status_code == 200 and run_id[:8] in listed.text and 'hx-trigger="every' in listed.text
    table = await admin.get("/ui/runs/table", params={"task": task["cy_name"], "trigger": "api"})
    assert table.status_code == 200 and run_id[:8] not in table.text
    assert (await admin.get("/ui/runs", params={"status": "bogus"})).status_code == 422


async def test_a_failed_run_shows_its_error_on_the_offending_line(api_worker, admin, client) -> None:
    started = await client.post("/v1/tasks/execute", json={"script": "x = 1\nlog(\"start\")\ny = x / 0\nreturn y", "input": {}})
    assert started.status_code == 202, started.text
    run = await wait_status(client, started.json()["id"], {"completed", "failed"})
    assert run["status"] == "failed" and run["error"]["line"] == 3, run
    page = await admin.get(f"/ui/runs/{run['id']}")
    assert page.status_code == 200
    assert 'id="run-error"' in page.text and run["error"]["type"] in page.text
    offending = re.search(r'<div class="offending" id="offending-line">([^<]*)</div>', page.text)
    assert offending and offending.group(1) == "y = x / 0"
    assert (await admin.get(f"/ui/runs/{uuid.uuid4()}")).status_code == 404
    assert (await admin.get("/ui/runs/not-a-run")).status_code == 404


async def test_approvals_answer_a_question_and_the_run_resumes(api_worker, admin, client, unique) -> None:
    task = await create_task(client, unique, 'd = app::human::ask("Block it?", responses=["yes", "no"])\nreturn {"decision": d}')
    started = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {}})
    run_id = started.json()["id"]
    await wait_status(client, run_id, {"paused"})

    page = await admin.get("/ui/approvals")
    assert page.status_code == 200 and "Block it?" in page.text
    assert "any approver may answer" in page.text
    question_id = re.search(rf'/ui/approvals/{run_id}/answer\?question_id=([0-9a-f-]+)', page.text).group(1)
    token = csrf(page.text)
    action = f"/ui/approvals/{run_id}/answer?question_id={question_id}"
    invalid = await admin.post(action, data={"csrf_token": token, "response": '"maybe"'})
    assert invalid.status_code == 422 and "Block it?" in invalid.text and 'role="alert"' in invalid.text
    assert (await admin.post(action, data={"response": '"yes"'})).status_code == 403

    run_page = await admin.get(f"/ui/runs/{run_id}")
    assert 'id="question"' in run_page.text and 'hx-trigger="every' in run_page.text

    answered = await admin.post(action, data={"csrf_token": token, "response": '"yes"'})
    assert answered.status_code == 303
    run = await wait_status(client, run_id, {"completed"})
    assert run["output"] == {"decision": "yes"}
    again = await admin.get("/ui/approvals")
    assert f"q-{question_id}" not in again.text
    history = again.text.split("Answered and expired", 1)[1]
    assert "Block it?" in history and "answered" in history and f"/ui/runs/{run_id}" in history
    questions = (await client.get(f"/v1/task-runs/{run_id}/questions")).json()["items"]
    assert questions[0]["answer_source"] == "ui" and questions[0]["answered_by"] == "bootstrap-admin"


async def test_a_form_question_is_answered_from_generated_fields_on_the_run_page(api_worker, admin, client, unique) -> None:
    form = {"type": "object", "required": ["severity"], "properties": {"severity": {"type": "integer"}, "note": {"type": "string"}}}
    task = await create_task(client, unique, f'a = app::human::ask("Rate it", form={form!r})\nreturn a'.replace("'", '"'))
    run_id = (await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {}})).json()["id"]
    await wait_status(client, run_id, {"paused"})
    page = await admin.get(f"/ui/runs/{run_id}")
    assert 'name="field.severity"' in page.text
    token = csrf(page.text)
    wrong = await admin.post(f"/ui/runs/{run_id}/answer", data={"csrf_token": token, "mode": "fields", "field.severity": ""})
    assert wrong.status_code == 200 and "severity: is required" in wrong.text
    done = await admin.post(
        f"/ui/runs/{run_id}/answer", data={"csrf_token": token, "mode": "fields", "field.severity": "3", "field.note": "ok"}
    )
    assert done.status_code == 303
    run = await wait_status(client, run_id, {"completed"})
    assert run["output"] == {"severity": 3, "note": "ok"}


async def test_cancel_from_the_run_page(api_worker, admin, client) -> None:
    run_id = (await client.post("/v1/tasks/execute", json={"script": "sleep(300)\nreturn 1", "input": {}})).json()["id"]
    await wait_status(client, run_id, {"running"})
    page = await admin.get(f"/ui/runs/{run_id}")
    assert "Cancel run" in page.text
    cancelled = await admin.post(f"/ui/runs/{run_id}/cancel", data={"csrf_token": csrf(page.text)})
    assert cancelled.status_code == 303
    assert (await wait_status(client, run_id, {"cancelled"}))["status"] == "cancelled"


async def test_a_viewer_is_offered_what_its_role_allows(browser, client, unique) -> None:
    task = await create_task(client, unique, "return 1")
    viewer = await make_key(client, "viewer")
    assert (await sign_in(browser, viewer)).status_code == 303
    page = await browser.get(f"/ui/tasks/{task['id']}")
    assert page.status_code == 200 and 'id="run-form"' not in page.text
    refused = await browser.post(f"/ui/tasks/{task['id']}/run", data={"csrf_token": csrf(page.text), "mode": "json", "raw": "{}"})
    assert refused.status_code == 403
    assert (await browser.get("/ui/approvals")).status_code == 200
    payloads = await make_key(client, "payloads")
    assert (await sign_in(browser, payloads)).status_code == 303
    assert (await browser.get("/ui/runs")).status_code == 403
    assert (await browser.get("/ui/tasks")).status_code == 403


async def test_dashboard_and_task_list(admin, client, unique) -> None:
    task = await create_task(client, unique, "return 2")
    dashboard = await admin.get("/ui")
    assert dashboard.status_code == 200 and "<svg" in dashboard.text and 'id="success-rate"' in dashboard.text
    for window in ("7d", "30d"):
        assert (await admin.get("/ui", params={"window": window})).status_code == 200
    assert (await admin.get("/ui", params={"window": "1y"})).status_code == 422
    tasks = await admin.get("/ui/tasks")
    assert tasks.status_code == 200
    assert (await admin.get(f"/ui/tasks/{task['cy_name']}")).status_code == 200
    assert (await admin.get("/ui/tasks/no_such_task_at_all")).status_code == 404
    assert (await admin.get("/ui/tasks", params={"cursor": "garbage"})).status_code == 400


async def test_form_bodies_are_bounded(admin, api_settings) -> None:
    page = await admin.get("/ui/tasks")
    token = csrf(page.text)
    huge = "x" * (api_settings.MAX_BODY_BYTES + 10)
    response = await admin.post(f"/ui/tasks/{uuid.uuid4()}/run", data={"csrf_token": token, "raw": huge})
    assert response.status_code == 413


async def test_a_viewer_sees_a_run_without_its_payloads(api_worker, browser, client) -> None:
    started = await client.post("/v1/tasks/execute", json={"script": 'log("count ${input.k * 21}")\nreturn {"v": 1}', "input": {"k": 2}})
    run = await wait_status(client, started.json()["id"], {"completed"})
    viewer = await make_key(client, "viewer")
    assert (await sign_in(browser, viewer)).status_code == 303
    page = await browser.get(f"/ui/runs/{run['id']}")
    assert page.status_code == 200
    assert "needs the payloads role" in page.text and "count 42" not in page.text and 'id="run-output"' not in page.text
    assert "Cancel run" not in page.text


async def test_the_runs_list_filters_by_a_utc_time_range(api_worker, admin, client, unique) -> None:
    from datetime import UTC, datetime, timedelta

    task = await create_task(client, unique, "return 3")
    run_id = (await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {}})).json()["id"]
    created = datetime.fromisoformat((await wait_status(client, run_id, {"completed"}))["created_at"]).astimezone(UTC)
    local = "%Y-%m-%dT%H:%M"
    before_it = (created - timedelta(minutes=2)).strftime(local)
    after_it = (created + timedelta(minutes=2)).strftime(local)

    around = await admin.get("/ui/runs", params={"task": task["cy_name"], "after": before_it, "before": after_it})
    assert around.status_code == 200 and f"/ui/runs/{run_id}" in around.text
    assert f'value="{before_it}"' in around.text and 'type="datetime-local"' in around.text
    assert "after=" in around.text  # the polled table keeps the range
    later = await admin.get("/ui/runs/table", params={"task": task["cy_name"], "after": after_it})
    assert later.status_code == 200 and f"/ui/runs/{run_id}" not in later.text
    earlier = await admin.get("/ui/runs", params={"task": task["cy_name"], "before": before_it})
    assert earlier.status_code == 200 and f"/ui/runs/{run_id}" not in earlier.text

    unreadable = await admin.get("/ui/runs", params={"after": "yesterday"})
    assert unreadable.status_code == 422 and 'id="filter-error"' in unreadable.text
    assert "Created after: is not a date and time" in unreadable.text
    backwards = await admin.get("/ui/runs", params={"after": after_it, "before": before_it})
    assert backwards.status_code == 422 and "must be later than Created after" in backwards.text
    with_offset = await admin.get("/ui/runs", params={"before": "2026-01-01T10:00+02:00"})
    assert with_offset.status_code == 422 and "leave out the offset" in with_offset.text


async def test_a_run_page_lists_its_tool_calls_links_to_temporal_and_runs_again(
    api_worker, admin, client, unique, live_server, app
) -> None:
    task = await create_task(
        client,
        unique,
        'a = app::http::request("GET", "${input.base}/healthz")\n'
        'b = app::http::request("GET", "${input.base}/healthz", timeout=5)\n'
        "return {\"a\": a.status, \"b\": b.status, \"n\": input.n}",
        input_schema={"type": "object", "required": ["base"], "properties": {"base": {"type": "string"}, "n": {"type": "integer"}}},
    )
    run_id = (await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {"base": live_server, "n": 7}})).json()["id"]
    run = await wait_status(client, run_id, {"completed", "failed"})
    assert run["status"] == "completed", run

    page = await admin.get(f"/ui/runs/{run_id}")
    assert page.status_code == 200
    calls = page.text.split('id="tool-calls"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<code>([^<]+)</code>( <span class=\"muted\">\(local\)</span>)?", calls)
    assert rows == [("app::http::request", ""), ("app::http::request", ' <span class="muted">(local)</span>')], calls
    assert "mark_run_running" not in calls and "finish_run" not in calls  # bookkeeping is left out
    assert calls.count('<span class="badge completed">completed</span>') == 2
    assert re.search(r'<td class="num">\d+(\.\d)? m?s</td>', calls), calls  # the regular call's duration
    assert 'id="temporal-link"' not in page.text  # TEMPORAL_UI_URL is not set

    # Re-run: a new run of the same version with the same input, trigger ui.
    await client.patch(f"/v1/tasks/{task['id']}", json={"script": "return {\"changed\": true}"})
    refused = await admin.post(f"/ui/runs/{run_id}/rerun", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    again = await admin.post(f"/ui/runs/{run_id}/rerun", data={"csrf_token": csrf(page.text)})
    assert again.status_code == 303, again.text
    new_id = again.headers["location"].rsplit("/", 1)[1]
    assert new_id != run_id
    rerun = await wait_status(client, new_id, {"completed", "failed"})
    assert rerun["trigger"] == "ui" and rerun["task_version"] == 1 and rerun["input"] == {"base": live_server, "n": 7}
    assert rerun["output"] == {"a": 200, "b": 200, "n": 7}
    audit = (await client.get("/v1/audit", params={"action": "run.execute", "target_id": new_id})).json()["items"]
    assert audit and audit[0]["details"]["trigger"] == "ui"

    # A disabled task is not run again; the reason is shown on the run page.
    await client.patch(f"/v1/tasks/{task['id']}", json={"status": "disabled"})
    disabled = await admin.post(f"/ui/runs/{run_id}/rerun", data={"csrf_token": csrf(page.text)})
    assert disabled.status_code == 409 and 'role="alert"' in disabled.text and "disabled" in disabled.text
    assert (await admin.post(f"/ui/runs/{uuid.uuid4()}/rerun", data={"csrf_token": csrf(page.text)})).status_code == 404


async def test_rerun_is_offered_only_to_keys_that_may_execute_and_read_the_input(api_worker, browser, client, unique) -> None:
    run_id = (await client.post("/v1/tasks/execute", json={"script": "return 1", "input": {}})).json()["id"]
    await wait_status(client, run_id, {"completed"})
    viewer = await make_key(client, "viewer")
    assert (await sign_in(browser, viewer)).status_code == 303
    page = await browser.get(f"/ui/runs/{run_id}")
    assert page.status_code == 200 and 'id="rerun-form"' not in page.text
    assert "no tool calls" in page.text
    refused = await browser.post(f"/ui/runs/{run_id}/rerun", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 403 and "runs:execute" in refused.text
    # A runner that did not start the run cannot re-run it: it may not read its input.
    runner = await make_key(client, "runner")
    assert (await sign_in(browser, runner)).status_code == 303
    page = await browser.get(f"/ui/runs/{run_id}")
    assert 'id="rerun-form"' not in page.text
    refused = await browser.post(f"/ui/runs/{run_id}/rerun", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 403 and "payloads" in refused.text


async def test_the_temporal_ui_link_and_a_history_that_cannot_be_read(api_worker, admin, client, app, monkeypatch) -> None:
    from sqlalchemy import text

    state = app.state.cytasks
    run_id = (await client.post("/v1/tasks/execute", json={"script": "return 1", "input": {}})).json()["id"]
    await wait_status(client, run_id, {"completed"})
    monkeypatch.setattr(state.settings, "TEMPORAL_UI_URL", "http://temporal.example:8233/")
    page = await admin.get(f"/ui/runs/{run_id}")
    namespace = state.settings.TEMPORAL_NAMESPACE
    assert f'href="http://temporal.example:8233/namespaces/{namespace}/workflows/taskrun-{run_id}"' in page.text

    async def unreachable():
        raise RuntimeError("Temporal is down")

    monkeypatch.setattr(state, "temporal_client", unreachable)
    down = await admin.get(f"/ui/runs/{run_id}")
    assert down.status_code == 200 and 'id="tool-calls-unavailable"' in down.text and "did not answer" in down.text
    monkeypatch.undo()

    async with state.sessionmaker() as session:
        await session.execute(text("UPDATE task_runs SET workflow_id = :w WHERE id = :id"), {"w": f"taskrun-gone-{run_id}", "id": run_id})
        await session.commit()
    gone = await admin.get(f"/ui/runs/{run_id}")
    assert gone.status_code == 200 and "no longer has this run" in gone.text


async def test_the_task_page_compares_versions(admin, client, unique) -> None:
    task = await create_task(client, unique, 'x = 1\nlog("one")\nreturn x')
    changed = await client.patch(
        f"/v1/tasks/{task['id']}", json={"script": 'x = 2\nlog("one")\nreturn x', "timeout_seconds": 120}
    )
    assert changed.status_code == 200, changed.text
    page = await admin.get(f"/ui/tasks/{task['id']}")
    assert f'/ui/tasks/{task["id"]}/diff?a=1&amp;b=2' in page.text

    diff = await admin.get(f"/ui/tasks/{task['id']}/diff", params={"a": 1, "b": 2})
    assert diff.status_code == 200
    body = diff.text.split('id="script-diff"', 1)[1]
    assert '<div class="removed">-x = 1</div>' in body and '<div class="added">+x = 2</div>' in body
    assert '<div class=""> log(&#34;one&#34;)</div>' in body  # an unchanged line, not coloured
    api_diff = (await client.get(f"/v1/tasks/{task['id']}/versions/1/diff/2")).json()
    assert set(api_diff["changes"]) == set(re.findall(r"<td><code>([a-z_]+)</code></td>", body)) == {"timeout_seconds"}
    assert '<pre class="added">120</pre>' in body

    same = await admin.get(f"/ui/tasks/{task['cy_name']}/diff", params={"a": 2, "b": 2})
    assert same.status_code == 200 and "The scripts are the same." in same.text
    for params, message in (({"a": "one", "b": 2}, "a: must be a version number"), ({"a": 1, "b": 9}, "b: no such version (1 to 2)"),
                            ({"b": 2}, "a: choose a version")):
        refused = await admin.get(f"/ui/tasks/{task['id']}/diff", params=params)
        assert refused.status_code == 422 and 'id="diff-error"' in refused.text and message in refused.text, refused.text[-3000:]
    assert (await admin.get("/ui/tasks/no_such_task_at_all/diff", params={"a": 1, "b": 1})).status_code == 404


async def test_the_task_page_shows_its_schedule_and_next_fire_times_in_its_time_zone(admin, client, unique) -> None:
    task = await create_task(client, unique, "return 1")
    page = await admin.get(f"/ui/tasks/{task['id']}")
    assert 'id="schedule"' not in page.text
    put = await client.put(f"/v1/tasks/{task['id']}/schedule", json={"cron": "30 7 * * 1-5", "timezone": "Europe/Paris"})
    assert put.status_code in (200, 201), put.text
    page = await admin.get(f"/ui/tasks/{task['id']}")
    assert page.status_code == 200 and 'id="schedule"' in page.text
    section = page.text.split('id="schedule"', 1)[1].split("</div>", 1)[0]
    assert "<code>30 7 * * 1-5</code>" in section and "Next fire times (Europe/Paris)" in section
    shown = re.findall(r"<li>([^<]+)</li>", section)
    assert len(shown) == 5 and all(" 07:30:00 " in t and ("CET" in t or "CEST" in t) for t in shown), shown
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    api = await client.get(
        f"/v1/tasks/{task['id']}/schedule/fire-times",
        params={"start": now.isoformat(), "end": (now + timedelta(days=30)).isoformat()},
    )
    assert [t[:10] for t in api.json()["local_times"][:5]] == [t[:10] for t in shown]
    assert '<span class="badge running">active</span>' in section

    await client.post(f"/v1/tasks/{task['id']}/schedule/pause", json={"note": "holiday freeze"})
    paused = await admin.get(f"/ui/tasks/{task['id']}")
    state = paused.text.split('id="schedule-state"', 1)[1].split("</dd>", 1)[0]
    assert "paused" in state and "holiday freeze" in state
    await client.delete(f"/v1/tasks/{task['id']}/schedule")


async def wait_workflow(client: httpx.AsyncClient, run_id: str, done, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = (await client.get(f"/v1/workflow-runs/{run_id}")).json()
        if done(run):
            return run
        assert time.monotonic() < deadline, run
        await asyncio.sleep(0.2)


async def test_workflow_pages_draw_the_graph_and_colour_a_run_by_node_status(
    api_worker, admin, browser, client, unique, app, monkeypatch
) -> None:
    first = await create_task(client, f"{unique}a", "return {\"v\": input.x + 1}")
    ask = await create_task(client, f"{unique}b", 'd = app::human::ask("Ship ${input.v}?", responses=["yes", "no"])\nreturn {"d": d}')
    created = await client.post("/v1/workflows", json={
        "name": f"console-flow-{unique}",
        "nodes": [{"id": "first", "task": first["cy_name"]}, {"id": "ask", "task": ask["cy_name"]}],
        "edges": [{"from": "first", "to": "ask"}],
    })
    assert created.status_code == 201, created.text
    workflow = created.json()

    listing = await admin.get("/ui/workflows")
    assert listing.status_code == 200 and 'href="/ui/workflows"' in listing.text
    row = listing.text.split(f'/ui/workflows/{workflow["id"]}', 1)[1].split("</tr>", 1)[0]
    assert f"console-flow-{unique}" in row and '<td class="num">2</td>' in row

    page = await admin.get(f"/ui/workflows/{workflow['name']}")
    assert page.status_code == 200 and 'viewBox="0 0 ' in page.text and 'width="100%"' in page.text
    xs = dict(re.findall(r'data-node="(\w+)">\s*<title>[^<]*</title>\s*<rect x="(\d+)"', page.text))
    assert int(xs["first"]) < int(xs["ask"]), xs  # the entry node's column comes first
    assert page.text.count('marker-end="url(#arrowhead)"') == 1
    assert f'href="/ui/tasks/{first["cy_name"]}"' in page.text and "task · " in page.text

    run_id = (await client.post(f"/v1/workflows/{workflow['id']}/execute", json={"input": {"x": 41}})).json()["id"]
    await wait_workflow(client, run_id, lambda r: any(n["node_id"] == "ask" and n["status"] == "paused" for n in r["nodes"]))
    shown = await admin.get(f"/ui/workflow-runs/{run_id}")
    assert shown.status_code == 200 and 'hx-trigger="every' in shown.text
    statuses = dict(re.findall(r'data-node="(\w+)" data-status="(\w+)"', shown.text))
    assert statuses == {"first": "completed", "ask": "paused"}, statuses
    question = re.search(r'<div class="node-question"><a href="/ui/runs/([0-9a-f-]+)">Ship 42\?</a>', shown.text)
    assert question, shown.text
    assert f'<a href="/ui/runs/{question.group(1)}">' in shown.text.split('id="workflow-run-graph"', 1)[1].split("</svg>", 1)[0]
    assert (await admin.get(f"/ui/runs/{question.group(1)}")).status_code == 200
    live = await admin.get(f"/ui/workflow-runs/{run_id}/live")
    assert live.status_code == 200 and live.text.lstrip().startswith('<div id="workflow-run-body"')

    answered = await client.post(f"/v1/task-runs/{question.group(1)}/respond", json={"answer": "yes"})
    assert answered.status_code in (200, 202), answered.text
    await wait_workflow(client, run_id, lambda r: r["status"] in ("completed", "failed"))
    done = await admin.get(f"/ui/workflow-runs/{run_id}")
    assert "hx-trigger" not in done.text and 'id="workflow-run-output"' in done.text and "&#34;d&#34;: &#34;yes&#34;" in done.text
    assert dict(re.findall(r'data-node="(\w+)" data-status="(\w+)"', done.text)) == {"first": "completed", "ask": "completed"}
    assert 'id="temporal-link"' not in done.text
    monkeypatch.setattr(app.state.cytasks.settings, "TEMPORAL_UI_URL", "http://temporal.example")
    temporal_id = (await client.get(f"/v1/workflow-runs/{run_id}")).json()["temporal_workflow_id"]
    linked = await admin.get(f"/ui/workflow-runs/{run_id}")
    assert f'href="http://temporal.example/namespaces/{app.state.cytasks.settings.TEMPORAL_NAMESPACE}/workflows/{temporal_id}"' in linked.text
    monkeypatch.undo()
    recent = await admin.get(f"/ui/workflows/{workflow['id']}")
    assert f"/ui/workflow-runs/{run_id}" in recent.text

    assert (await admin.get(f"/ui/workflow-runs/{uuid.uuid4()}")).status_code == 404
    assert (await admin.get("/ui/workflows/no-such-workflow-here")).status_code == 404
    viewer = await make_key(client, "viewer")
    assert (await sign_in(browser, viewer)).status_code == 303
    seen = await browser.get(f"/ui/workflow-runs/{run_id}")
    assert seen.status_code == 200 and "needs the payloads role" in seen.text and 'id="workflow-run-output"' not in seen.text


async def test_the_task_list_shows_each_tasks_last_run_and_success_rate(api_worker, admin, client, unique) -> None:
    task = await create_task(client, unique, "return 10 / input")
    for value in (5, 0):
        started = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": value})
        last = await wait_status(client, started.json()["id"], {"completed", "failed"})
    page = await admin.get("/ui/tasks")
    row = page.text.split(f'href="/ui/tasks/{task["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert f'href="/ui/runs/{last["id"]}"' in row and "failed" in row
    assert "50.0 % of 2" in row
