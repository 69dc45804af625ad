"""Versions that do what they say (run one, roll back to one, compare two) and an
output_schema that is enforced."""

from __future__ import annotations

import asyncio

import pytest

from api_test_helpers import assert_problem

pytestmark = pytest.mark.stack


async def wait_terminal(client, run_id: str) -> dict:
    for _ in range(120):
        run = (await client.get(f"/v1/task-runs/{run_id}", params={"wait": 5})).json()
        if run["status"] in ("completed", "failed", "cancelled", "timed_out"):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


async def make_versions(client, unique: str) -> dict:
    task = (await client.post("/v1/tasks", json={"name": f"Versioned {unique}", "script": 'return "one"'})).json()
    for script in ('return "two"', 'x = "three"\nreturn x'):
        response = await client.patch(f"/v1/tasks/{task['id']}", json={"script": script})
        assert response.status_code == 200, response.text
    return (await client.get(f"/v1/tasks/{task['id']}")).json()


@pytest.mark.usefixtures("api_worker")
async def test_execute_runs_the_version_asked_for(client, unique):
    task = await make_versions(client, unique)
    assert task["version"] == 3
    by_body = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": None, "version": 1})
    assert by_body.status_code == 202, by_body.text
    by_query = await client.post(f"/v1/tasks/{task['id']}/execute", params={"version": 2}, json={})
    current = await client.post(f"/v1/tasks/{task['id']}/execute", json={})
    outputs = []
    for response in (by_body, by_query, current):
        run = await wait_terminal(client, response.json()["id"])
        outputs.append((run["task_version"], run["output"]))
    assert outputs == [(1, "one"), (2, "two"), (3, "three")]
    missing = await client.post(f"/v1/tasks/{task['id']}/execute", json={"version": 9})
    assert assert_problem(missing, 422)["errors"][0]["field"] == "version"
    disagree = await client.post(f"/v1/tasks/{task['id']}/execute", params={"version": 1}, json={"version": 2})
    assert_problem(disagree, 422)


async def test_rollback_makes_a_new_version_equal_to_the_old_one_and_diff_shows_changes(client, unique):
    task = await make_versions(client, unique)
    rolled = await client.post(f"/v1/tasks/{task['id']}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == 4 and rolled.json()["script"] == 'return "one"'
    versions = (await client.get(f"/v1/tasks/{task['id']}/versions")).json()["items"]
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
    diff = (await client.get(f"/v1/tasks/{task['id']}/versions/2/diff/3")).json()
    assert '-return "two"' in diff["script_diff"] and '+x = "three"' in diff["script_diff"]
    assert diff["changes"] == {}
    same = (await client.get(f"/v1/tasks/{task['id']}/versions/1/diff/4")).json()
    assert same["script_diff"] == "" and same["changes"] == {}
    assert_problem(await client.get(f"/v1/tasks/{task['id']}/versions/1/diff/99"), 404)
    assert_problem(await client.post(f"/v1/tasks/{task['id']}/rollback", json={"version": 99}), 422)
    entries = (await client.get("/v1/audit", params={"action": "task.rollback", "target_id": task["id"]})).json()
    assert entries["items"][0]["details"] == {"to_content_of": 1, "version": 4}


@pytest.mark.usefixtures("api_worker")
async def test_an_output_that_breaks_the_output_schema_fails_the_run_and_is_kept(client, unique):
    task = await client.post(
        "/v1/tasks",
        json={
            "name": f"Typed {unique}",
            "script": 'return {"count": input}',
            "output_schema": {"type": "object", "properties": {"count": {"type": "integer"}}},
        },
    )
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]
    good = await wait_terminal(client, (await client.post(f"/v1/tasks/{task_id}/execute", json={"input": 3})).json()["id"])
    assert good["status"] == "completed" and good["output"] == {"count": 3}
    bad = await client.post(f"/v1/tasks/{task_id}/execute", json={"input": "not-a-number"})
    run = await wait_terminal(client, bad.json()["id"])
    assert run["status"] == "failed"
    assert run["error"]["type"] == "OutputSchemaViolation"
    assert run["error"]["path"] == "$.count"
    assert "'not-a-number' is not of type 'integer'" in run["error"]["message"]
    assert run["output"] == {"count": "not-a-number"}
