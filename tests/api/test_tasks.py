"""Tasks: create, read, list with cursors, change with versions, archive."""

from __future__ import annotations

import httpx
import pytest

from api_test_helpers import assert_problem

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

SCRIPT = 'return "hello " + input["name"]'


async def create(client: httpx.AsyncClient, **fields) -> dict:
    body = {"name": "Greeter", "script": SCRIPT, **fields}
    response = await client.post("/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_version_1_with_all_fields(client: httpx.AsyncClient, unique: str) -> None:
    task = await create(
        client,
        name=f"Summarize Alert {unique}",
        description="Summarize a security alert",
        directive="Be brief.",
        function="summarization",
        scope="processing",
        input_schema={"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        output_schema={"type": "string"},
        data_samples=[{"input": {"name": "x"}, "expected_output": "hello x"}],
        llm_config={"model": "gpt-4o-mini", "temperature": 0},
        timeout_seconds=30,
        max_concurrency=4,
        integration_id="splunk",
        origin_type="pack",
        managed_resource_key=f"pack/greeter/{unique}",
    )
    assert task["version"] == 1
    assert task["status"] == "enabled"
    assert task["cy_name"] == f"summarize_alert_{unique}"
    assert task["function"] == "summarization"
    assert task["llm_config"] == {"model": "gpt-4o-mini", "temperature": 0}
    assert task["data_samples"][0]["expected_output"] == "hello x"
    assert task["timeout_seconds"] == 30
    assert task["origin_type"] == "pack"

    by_id = await client.get(f"/v1/tasks/{task['id']}")
    by_name = await client.get(f"/v1/tasks/{task['cy_name']}")
    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json() == by_name.json() == task


async def test_cy_name_is_generated_and_made_unique(client: httpx.AsyncClient, unique: str) -> None:
    name = f"Enrich IP {unique}!"
    first = await create(client, name=name)
    second = await create(client, name=name)
    third = await create(client, name=name)
    assert first["cy_name"] == f"enrich_ip_{unique}"
    assert second["cy_name"] == f"enrich_ip_{unique}_2"
    assert third["cy_name"] == f"enrich_ip_{unique}_3"
    digits = await create(client, name="42 things")
    assert digits["cy_name"][0].isalpha()


async def test_explicit_cy_name_conflict_is_409(client: httpx.AsyncClient, unique: str) -> None:
    await create(client, cy_name=f"taken_{unique}")
    response = await client.post("/v1/tasks", json={"name": "x", "script": SCRIPT, "cy_name": f"taken_{unique}"})
    body = assert_problem(response, 409, "cy-name-conflict")
    assert body["errors"][0]["field"] == "cy_name"


async def test_invalid_cy_name_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/tasks", json={"name": "x", "script": SCRIPT, "cy_name": "Not Valid"})
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["field"] == "cy_name"


async def test_unknown_task_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/tasks/no_such_task"), 404, "not-found")
    assert_problem(await client.get("/v1/tasks/00000000-0000-7000-8000-000000000000"), 404, "not-found")
    assert_problem(await client.patch("/v1/tasks/no_such_task", json={"description": "x"}), 404, "not-found")
    assert_problem(await client.delete("/v1/tasks/no_such_task"), 404, "not-found")
    assert_problem(await client.get("/v1/tasks/no_such_task/versions"), 404, "not-found")


@pytest.mark.parametrize("field", ["input_schema", "output_schema"])
async def test_invalid_json_schema_is_422(client: httpx.AsyncClient, field: str) -> None:
    bad = {"type": "object", "properties": {"n": {"type": "no-such-type"}}}
    response = await client.post("/v1/tasks", json={"name": "x", "script": SCRIPT, field: bad})
    body = assert_problem(response, 422, f"invalid-{field.replace('_', '-')}")
    assert body["errors"][0]["field"] == field
    assert body["errors"][0]["path"].startswith("$.properties.n")


async def test_patch_with_invalid_schema_is_422(client: httpx.AsyncClient) -> None:
    task = await create(client)
    response = await client.patch(f"/v1/tasks/{task['id']}", json={"input_schema": {"required": "name"}})
    assert_problem(response, 422, "invalid-input-schema")


async def test_script_that_does_not_compile_is_422_with_position(client: httpx.AsyncClient) -> None:
    script = 'x = 1\ny = (2 +\nreturn x'
    response = await client.post("/v1/tasks", json={"name": "broken", "script": script})
    body = assert_problem(response, 422, "invalid-script")
    error = body["errors"][0]
    assert set(error) >= {"type", "message", "line", "column"}
    assert error["line"] >= 2
    assert error["column"] >= 1


async def test_unknown_tool_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/tasks", json={"name": "t", "script": "return app::nope::missing(1)"})
    body = assert_problem(response, 422, "invalid-script")
    assert body["errors"][0]["line"] == 1


async def test_patch_with_bad_script_is_422_and_keeps_version(client: httpx.AsyncClient) -> None:
    task = await create(client)
    response = await client.patch(f"/v1/tasks/{task['id']}", json={"script": "return (("})
    assert_problem(response, 422, "invalid-script")
    assert (await client.get(f"/v1/tasks/{task['id']}")).json()["version"] == 1


async def test_patch_versions(client: httpx.AsyncClient, unique: str) -> None:
    task = await create(client, name=f"Versioned {unique}")
    task_id = task["id"]

    same = await client.patch(f"/v1/tasks/{task_id}", json={"description": "only metadata"})
    assert same.status_code == 200, same.text
    assert same.json()["version"] == 1
    assert same.json()["description"] == "only metadata"

    new_script = await client.patch(f"/v1/tasks/{task['cy_name']}", json={"script": 'return "v2"'})
    assert new_script.json()["version"] == 2

    unchanged = await client.patch(f"/v1/tasks/{task_id}", json={"script": 'return "v2"'})
    assert unchanged.json()["version"] == 2

    execution = await client.patch(f"/v1/tasks/{task_id}", json={"timeout_seconds": 5})
    assert execution.json()["version"] == 3

    versions = (await client.get(f"/v1/tasks/{task_id}/versions")).json()
    assert [v["version"] for v in versions["items"]] == [3, 2, 1]
    assert versions["items"][2]["script"] == SCRIPT
    assert versions["items"][1]["script"] == 'return "v2"'
    assert versions["items"][0]["timeout_seconds"] == 5
    assert versions["next_cursor"] is None


async def test_patch_rejects_null_for_required_fields(client: httpx.AsyncClient) -> None:
    task = await create(client)
    body = assert_problem(await client.patch(f"/v1/tasks/{task['id']}", json={"script": None}), 422)
    assert body["errors"][0]["field"] == "script"


async def test_patch_rejects_unknown_fields(client: httpx.AsyncClient) -> None:
    task = await create(client)
    body = assert_problem(await client.patch(f"/v1/tasks/{task['id']}", json={"colour": "red"}), 422)
    assert body["errors"][0]["field"] == "colour"


async def test_archive_keeps_the_task_readable(client: httpx.AsyncClient, unique: str) -> None:
    task = await create(client, name=f"Archived {unique}")
    response = await client.delete(f"/v1/tasks/{task['cy_name']}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "archived"
    assert (await client.get(f"/v1/tasks/{task['id']}")).json()["status"] == "archived"

    default_list = (await client.get("/v1/tasks", params={"name": unique})).json()
    assert task["id"] not in [t["id"] for t in default_list["items"]]
    archived = (await client.get("/v1/tasks", params={"name": unique, "status": "archived"})).json()
    assert [t["id"] for t in archived["items"]] == [task["id"]]


async def test_list_filters(client: httpx.AsyncClient, unique: str) -> None:
    a = await create(client, name=f"Filter A {unique}", function="extraction", scope="input")
    b = await create(client, name=f"Filter B {unique}", function="reasoning", scope="output", status="disabled")

    async def ids(**params) -> list[str]:
        response = await client.get("/v1/tasks", params=params)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert await ids(name=f"filter a {unique}") == [a["id"]]
    assert await ids(cy_name=b["cy_name"]) == [b["id"]]
    assert await ids(name=unique, function="extraction") == [a["id"]]
    assert await ids(name=unique, scope="output") == [b["id"]]
    assert await ids(name=unique, status="disabled") == [b["id"]]
    assert await ids(name=unique) == [b["id"], a["id"]]


async def test_cursor_pagination_walks_every_task_once(client: httpx.AsyncClient, unique: str) -> None:
    created = [(await create(client, name=f"Page {unique} {i}"))["id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"name": f"Page {unique}", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/tasks", params=params)).json()
        seen.extend(t["id"] for t in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(created))


async def test_invalid_cursor_is_400(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/tasks", params={"cursor": "garbage"}), 400, "invalid-cursor")
    assert body["errors"][0]["field"] == "cursor"


async def test_a_script_reading_a_variable_it_never_assigns_is_refused_at_save(client, unique):
    response = await client.post("/v1/tasks", json={"name": f"Typo {unique}", "script": "x = 1\nreturn true"})
    assert response.status_code == 422, response.text
    problem = response.json()
    error = problem["errors"][0]
    assert (error["type"], error["line"], error["column"]) == ("NameError", 2, 8)
    assert "Cy spells it True" in error["message"]
    adhoc = await client.post("/v1/tasks/execute", json={"script": "return none_such"})
    assert adhoc.status_code == 422, adhoc.text
