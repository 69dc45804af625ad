"""Authentication, health endpoints and the problem+json shape of framework errors."""

from __future__ import annotations

import httpx
import pytest

from api_test_helpers import assert_problem

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]


async def test_health_endpoints_are_open(client: httpx.AsyncClient) -> None:
    anonymous = {"Authorization": ""}
    live = await client.get("/healthz", headers=anonymous)
    assert live.status_code == 200
    assert live.json()["status"] == "ok"

    ready = await client.get("/readyz", headers=anonymous)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "temporal": "ok"}


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/tasks" in spec["paths"]
    assert "/v1/task-runs/{run_id}/cancel" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_missing_key_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/tasks", headers={"Authorization": ""})
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert body["instance"] == "/v1/tasks"


async def test_wrong_key_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/tasks", headers={"Authorization": "Bearer not-a-key"})
    assert_problem(response, 401, "unauthorized")
    response = await client.post("/v1/tasks/execute", json={"script": "1"}, headers={"Authorization": "Basic abc"})
    assert_problem(response, 401, "unauthorized")


async def test_bootstrap_key_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/tasks")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"items", "next_cursor"}


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.put("/v1/tasks"), 405, "method-not-allowed")


async def test_malformed_json_is_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/tasks", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"]


async def test_request_validation_lists_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/tasks", json={"script": 42, "timeout_seconds": -1})
    body = assert_problem(response, 422, "validation-error")
    fields = {error["field"] for error in body["errors"]}
    assert {"name", "script", "timeout_seconds"} <= fields
    for error in body["errors"]:
        assert error["in"] == "body"
        assert error["message"]


async def test_bad_query_parameter_is_422_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/tasks", params={"limit": 201}), 422, "validation-error")
    assert body["errors"][0]["field"] == "limit"
    assert body["errors"][0]["in"] == "query"
