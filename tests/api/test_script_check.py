"""`POST /v1/scripts/check`: a script's compile-time errors, with line and column, nothing saved or run."""

from __future__ import annotations

import pytest

from api_test_helpers import assert_problem

pytestmark = pytest.mark.stack


async def test_a_script_that_compiles_is_valid(client):
    response = await client.post("/v1/scripts/check", json={"script": 'return {"ok": is_ipv4(input.ip)}'})
    assert response.status_code == 200, response.text
    assert response.json() == {"valid": True, "errors": []}


async def test_every_error_has_its_type_line_and_column(client):
    response = await client.post(
        "/v1/scripts/check", json={"script": "a = 1\nreturn a + nowhere\n"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is False
    [error] = body["errors"]
    assert (error["line"], error["column"]) == (2, 12), error
    assert error["type"] and "nowhere" in error["message"]

    syntax = (await client.post("/v1/scripts/check", json={"script": "x = {\n"})).json()
    assert syntax["valid"] is False and syntax["errors"][0]["type"] == "SyntaxError"


async def test_a_bad_request_is_a_422_problem_naming_the_field(client, api_settings):
    missing = assert_problem(await client.post("/v1/scripts/check", json={}), 422)
    assert any(error["field"] == "script" for error in missing["errors"]), missing
    extra = assert_problem(await client.post("/v1/scripts/check", json={"script": "return 1", "input": 1}), 422)
    assert any(error["field"] == "input" for error in extra["errors"]), extra
    assert_problem(await client.post("/v1/scripts/check", json={"script": ""}), 422)
    too_large = "#" * (api_settings.MAX_SCRIPT_BYTES + 1)
    big = assert_problem(await client.post("/v1/scripts/check", json={"script": too_large}), 422)
    assert big["errors"][0]["type"] == "script_too_large"
