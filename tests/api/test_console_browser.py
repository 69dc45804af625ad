"""The console in a real Chromium (Debian's `chromium`, driven by Playwright): sign in, run a task
from its generated form and watch the run complete, answer a question and see the run resume.

Skipped, saying why, where Chromium or Playwright is not installed (`.ci/run` installs Chromium
when it runs as root)."""

from __future__ import annotations

import shutil
import uuid

import httpx
import pytest

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 60_000

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None

if CHROMIUM is None:
    pytestmark.append(pytest.mark.skip(reason="no Chromium: install Debian's package (apt-get install -y chromium)"))
elif async_playwright is None:
    pytestmark.append(pytest.mark.skip(reason="Playwright is not installed (pip install -e '.[test]')"))


@pytest.fixture
async def page(live_server, api_worker):
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            yield await context.new_page()
        finally:
            await browser.close()


async def _api(live_server: str, api_settings, method: str, path: str, **kwargs) -> dict:
    async with httpx.AsyncClient(base_url=live_server, headers={"Authorization": f"Bearer {api_settings.API_KEY}"}) as api:
        response = await api.request(method, path, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


async def _sign_in(page, live_server: str, api_settings) -> None:
    await page.goto(f"{live_server}/ui/login")
    await page.fill("#api_key", api_settings.API_KEY)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Dashboard")


async def test_sign_in_run_a_task_from_its_form_and_watch_it_complete(page, live_server, api_settings) -> None:
    task = await _api(
        live_server, api_settings, "POST", "/v1/tasks",
        json={
            "name": f"Browser {uuid.uuid4().hex[:8]}",
            "script": 'sleep(1)\nreturn {"greeting": "hello " + input.name}',
            "input_schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        },
    )
    await _sign_in(page, live_server, api_settings)
    await page.get_by_role("link", name="Tasks", exact=True).click()
    await page.get_by_role("link", name=task["name"], exact=True).click()
    await page.fill('input[name="field.name"]', "world")
    await page.click('button[name="mode"][value="fields"]')
    await expect(page.locator("h1")).to_contain_text("Run")
    # The page polls with htmx until the run ends.
    await expect(page.locator("#run-status")).to_have_text("completed", timeout=WAIT_MS)
    await expect(page.locator("#run-output")).to_contain_text("hello world")


async def test_answer_a_question_and_see_the_run_resume(page, live_server, api_settings) -> None:
    task = await _api(
        live_server, api_settings, "POST", "/v1/tasks",
        json={
            "name": f"Browser ask {uuid.uuid4().hex[:8]}",
            "script": 'd = app::human::ask("Ship it?", responses=["yes", "no"])\nreturn {"decision": d}',
        },
    )
    await _sign_in(page, live_server, api_settings)
    await page.goto(f"{live_server}/ui/tasks/{task['id']}")
    await page.click('button[name="mode"][value="json"]')
    await expect(page.locator("#run-status")).to_have_text("paused", timeout=WAIT_MS)
    await page.get_by_role("link", name="Approvals", exact=True).click()
    await expect(page.locator(".question").filter(has_text="Ship it?")).to_have_count(1)
    await page.locator(".question").filter(has_text="Ship it?").locator('button[name="response"][value="\\"yes\\""]').click()
    await expect(page.locator(".question").filter(has_text="Ship it?")).to_have_count(0)
    await page.goto(f"{live_server}/ui/runs?task={task['id']}")
    await page.locator("#runs a").first.click()
    await expect(page.locator("#run-status")).to_have_text("completed", timeout=WAIT_MS)
    await expect(page.locator("#run-output")).to_contain_text("yes")


async def test_the_pages_fit_a_phone(page, live_server, api_settings) -> None:
    await page.set_viewport_size({"width": 390, "height": 800})
    await _sign_in(page, live_server, api_settings)
    for path in ("/ui", "/ui/runs", "/ui/approvals", "/ui/tasks"):
        await page.goto(f"{live_server}{path}")
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, (path, overflow)


async def test_the_new_pages_fit_a_phone_and_the_graph_scales(page, live_server, api_settings) -> None:
    unique = uuid.uuid4().hex[:8]
    names = []
    for suffix in ("a", "b", "c"):
        task = await _api(live_server, api_settings, "POST", "/v1/tasks",
                          json={"name": f"Phone {unique}{suffix}", "script": "return input"})
        names.append(task["cy_name"])
    await _api(live_server, api_settings, "PATCH", f"/v1/tasks/{names[0]}", json={"script": "x = 1\nreturn input"})
    workflow = await _api(live_server, api_settings, "POST", "/v1/workflows", json={
        "name": f"phone-flow-{unique}",
        "nodes": [{"id": "start", "task": names[0]}, {"id": "left", "task": names[1]}, {"id": "right", "task": names[2]}],
        "edges": [{"from": "start", "to": "left"}, {"from": "start", "to": "right"}],
    })
    run = await _api(live_server, api_settings, "POST", f"/v1/workflows/{workflow['id']}/execute", json={"input": {"k": 1}})
    await page.set_viewport_size({"width": 390, "height": 800})
    await _sign_in(page, live_server, api_settings)
    await page.goto(f"{live_server}/ui/workflow-runs/{run['id']}")
    await expect(page.locator("#workflow-run-status")).to_have_text("completed", timeout=WAIT_MS)
    for path in ("/ui/workflows", f"/ui/workflows/{workflow['id']}", f"/ui/workflow-runs/{run['id']}",
                 f"/ui/tasks/{names[0]}/diff?a=1&b=2", f"/ui/runs?after=2020-01-01T00:00"):
        await page.goto(f"{live_server}{path}")
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, (path, overflow)
        svg = page.locator(".graph svg")
        if await svg.count():
            box = await svg.bounding_box()
            assert box and box["width"] <= 390, (path, box)
