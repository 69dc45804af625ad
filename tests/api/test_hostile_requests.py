"""Hostile HTTP requests against the live app: each is a 4xx problem naming the field, never a 500 or a hang."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from api_test_helpers import assert_problem

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

SCRIPT = "return input"


async def make_task(client: httpx.AsyncClient, name: str, **fields) -> dict:
    response = await client.post("/v1/tasks", json={"name": name, "script": SCRIPT, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def field_error(body: dict, field: str, where: str = "body") -> dict:
    matching = [e for e in body.get("errors") or [] if e.get("field") == field and e.get("in", where) == where]
    assert matching, f"no error names {where} field {field!r}: {body}"
    return matching[0]


async def post_raw(client: httpx.AsyncClient, url: str, raw: bytes | str, method: str = "POST") -> httpx.Response:
    content = raw.encode() if isinstance(raw, str) else raw
    return await client.request(method, url, content=content, headers={"Content-Type": "application/json"})


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


# --- non-JSON values in JSON bodies -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_value", "kind"),
    [
        ("NaN", "json_not_finite"),
        ("Infinity", "json_not_finite"),
        ("-Infinity", "json_not_finite"),
        ("1e400", "json_not_finite"),
        ('"\\ud800"', "json_invalid_string"),
        ('"a\\u0000b"', "json_invalid_string"),
    ],
)
async def test_non_json_values_in_the_input_are_refused_with_their_path(
    client: httpx.AsyncClient, unique: str, raw_value: str, kind: str
) -> None:
    task = await make_task(client, f"Hostile {kind} {unique}")
    value = '{"a": [1, 2, 3, %s]}' % raw_value
    for url, raw in [
        (f"/v1/tasks/{task['id']}/execute", '{"input": %s}' % value),
        ("/v1/tasks/execute", '{"script": "return 1", "input": %s}' % value),
    ]:
        response = await post_raw(client, url, raw)
        body = assert_problem(response, 422, "validation-error")
        error = field_error(body, "input.a[3]")
        assert error["type"] == kind
        assert "body.input.a[3]" in body["detail"]


async def test_lone_surrogate_and_nul_in_keys_and_text_fields(client: httpx.AsyncClient, unique: str) -> None:
    response = await post_raw(client, "/v1/tasks/execute", '{"script": "return 1", "input": {"ok": {"\\udfff": 1}}}')
    body = assert_problem(response, 422, "validation-error")
    assert "key" in field_error(body, "input.ok")["message"]

    for field in ("name", "script", "description", "cy_name", "function"):
        payload = {"name": f"NUL {unique}", "script": SCRIPT, field: "x\u0000y"}
        response = await client.post("/v1/tasks", json=payload)
        body = assert_problem(response, 422, "validation-error")
        assert "NUL" in field_error(body, field)["message"]


async def test_malformed_json_stays_a_clear_422(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, "/v1/tasks/execute", '{"script": "return 1", "input": ')
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["type"] == "json_invalid"

    response = await post_raw(client, "/v1/tasks/execute", b'{"script": "\xff\xfe"}')
    body = assert_problem(response, 422, "validation-error")
    assert "UTF-8" in field_error(body, "body")["message"]

    # Another encoding is no way around the strict checks (Python's json would detect UTF-16).
    response = await post_raw(client, "/v1/tasks/execute", '{"script": "return 1", "input": NaN}'.encode("utf-16"))
    assert field_error(assert_problem(response, 422, "validation-error"), "body")["type"] == "json_invalid"
    response = await post_raw(client, "/v1/tasks/execute", b'\xef\xbb\xbf{"script": "return 1", "input": NaN}')
    assert field_error(assert_problem(response, 422, "validation-error"), "input")["type"] == "json_not_finite"


# --- depth ---------------------------------------------------------------------------------------


async def test_input_deeper_than_the_limit_is_refused_with_its_path(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/tasks/execute", json={"script": "return 1", "input": nested(70)})
    body = assert_problem(response, 422, "validation-error")
    error = next(e for e in body["errors"] if e["type"] == "json_too_deep")
    assert error["field"].startswith("input.a.a.a")
    assert "64" in error["message"]


async def test_input_far_deeper_than_the_parser_goes_is_refused(client: httpx.AsyncClient) -> None:
    raw = '{"script": "return 1", "input": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = await post_raw(client, "/v1/tasks/execute", raw)
    body = assert_problem(response, 422, "validation-error")
    assert field_error(body, "body")["type"] == "json_too_deep"


async def test_input_schema_900_deep_is_refused(client: httpx.AsyncClient, unique: str) -> None:
    schema = '{"type": "object", "properties": {"a": ' * 900 + '{"type": "integer"}' + "}}" * 900
    raw = '{"name": "Deep %s", "script": "return 1", "input_schema": %s}' % (unique, schema)
    body = assert_problem(await post_raw(client, "/v1/tasks", raw), 422, "validation-error")
    error = body["errors"][0]
    assert error["type"] == "json_too_deep"
    assert error["field"] == "body" or error["field"].startswith("input_schema.properties.a.properties")


async def test_deep_but_allowed_input_runs_and_listing_still_answers(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/tasks/execute", json={"script": "return 1", "input": nested(60)})
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    assert (await client.get(f"/v1/task-runs/{run_id}")).status_code == 200
    listing = await client.get("/v1/task-runs", params={"trigger": "adhoc", "limit": 200})
    assert listing.status_code == 200, listing.text
    assert run_id in [item["id"] for item in listing.json()["items"]]


# --- sizes ---------------------------------------------------------------------------------------


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    big = json.dumps({"script": "return 1", "input": "x" * (10 * 1024 * 1024 + 10)})
    response = await post_raw(client, "/v1/tasks/execute", big)
    body = assert_problem(response, 413, "payload-too-large")
    field_error(body, "body")


async def test_chunked_body_over_the_limit_is_413_before_it_is_all_sent(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks():
        nonlocal sent
        yield b'{"script": "return 1", "input": "'
        for _ in range(300):  # 300 MiB if it were all read
            sent += 1
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = await client.post("/v1/tasks/execute", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")
    assert sent < 20, f"{sent} MiB were read before answering"


async def test_script_over_the_limit_is_refused(client: httpx.AsyncClient, unique: str) -> None:
    script = "x = 1\n" * 12_000  # 72,000 bytes
    checks = [
        client.post("/v1/tasks", json={"name": f"Big {unique}", "script": script}),
        client.post("/v1/tasks/execute", json={"script": script}),
    ]
    task = await make_task(client, f"Small {unique}")
    checks.append(client.patch(f"/v1/tasks/{task['id']}", json={"script": script}))
    for response in await asyncio.gather(*checks):
        body = assert_problem(response, 422, "validation-error")
        assert field_error(body, "script")["type"] == "script_too_large"
    # two-byte characters count as two bytes
    response = await client.post("/v1/tasks/execute", json={"script": 'return "' + "é" * 33_000 + '"'})
    assert field_error(assert_problem(response, 422), "script")


# --- integers and instants beyond their columns --------------------------------------------------


@pytest.mark.parametrize("field", ["max_concurrency", "timeout_seconds"])
async def test_integers_over_int32_are_422(client: httpx.AsyncClient, unique: str, field: str) -> None:
    response = await client.post("/v1/tasks", json={"name": f"Int {unique}", "script": SCRIPT, field: 2**31})
    assert field_error(assert_problem(response, 422, "validation-error"), field)
    task = await make_task(client, f"Int ok {unique}")
    response = await client.patch(f"/v1/tasks/{task['id']}", json={field: 2**63})
    assert field_error(assert_problem(response, 422, "validation-error"), field)


async def test_query_integers_and_instants_out_of_range_are_422(client: httpx.AsyncClient) -> None:
    run = (await client.post("/v1/tasks/execute", json={"script": "return 1"})).json()
    response = await client.get(f"/v1/task-runs/{run['id']}/logs", params={"after_seq": 2**31})
    assert field_error(assert_problem(response, 422), "after_seq", "query")
    response = await client.get("/v1/task-runs", params={"limit": 2**63})
    assert field_error(assert_problem(response, 422), "limit", "query")
    response = await client.get("/v1/task-runs", params={"created_after": "0001-01-01T00:00:00+05:00"})
    assert field_error(assert_problem(response, 422), "created_after", "query")
    response = await client.post("/v1/tasks", json={"name": "x", "script": SCRIPT, "llm_config": {"max_tokens": 2**40}})
    assert field_error(assert_problem(response, 422), "llm_config.max_tokens")


# --- NUL outside the body ------------------------------------------------------------------------


async def test_nul_in_query_path_and_headers_is_422_naming_it(client: httpx.AsyncClient, unique: str) -> None:
    for url, field in [
        ("/v1/tasks?name=a%00b", "name"),
        ("/v1/tasks?cy_name=%00", "cy_name"),
        ("/v1/task-runs?task=x%00", "task"),
        ("/v1/questions?assignee=%00", "assignee"),
        ("/v1/task-runs?cursor=%00", "cursor"),
    ]:
        body = assert_problem(await client.get(url), 422, "validation-error")
        field_error(body, field, "query")
    for url in ("/v1/tasks/a%00b", "/v1/task-runs/a%00b", "/v1/tasks/a%00b/schedule", "/v1/questions/a%00"):
        body = assert_problem(await client.get(url), 422, "validation-error")
        assert body["errors"][0]["in"] == "path", body
    task = await make_task(client, f"Header {unique}")
    for header in ("Idempotency-Key", "X-Cytasks-Trigger"):
        response = await client.post(
            f"/v1/tasks/{task['id']}/execute", json={"input": {}}, headers={header: "k\x00y"}
        )
        body = assert_problem(response, 422, "validation-error")
        field_error(body, header.lower(), "header")


# --- JSON Schema work is bounded ----------------------------------------------------------------


async def test_catastrophic_patterns_answer_promptly(client: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(
        client,
        f"Pattern {unique}",
        input_schema={"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}},
    )
    response = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {"s": "a" * 28 + "!"}})
    body = assert_problem(response, 422, "input-validation-failed")
    assert body["errors"][0]["path"] == "$.s"

    # One the regex engine cannot shortcut: it runs into the time limit, named in the schema.
    slow = await make_task(
        client,
        f"Slow pattern {unique}",
        input_schema={"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a|aa)+$"}}},
    )
    response = await client.post(f"/v1/tasks/{slow['id']}/execute", json={"input": {"s": "a" * 40 + "!"}})
    body = assert_problem(response, 422, "input-validation-failed")
    error = body["errors"][0]
    assert error["field"] == "input_schema"
    assert error["schema_path"] == "$.properties.s.pattern"

    # patternProperties looked at through additionalProperties is bounded the same way
    props = await make_task(
        client,
        f"Pattern props {unique}",
        input_schema={"type": "object", "patternProperties": {"^(a|aa)+$": {}}, "additionalProperties": False},
    )
    response = await client.post(f"/v1/tasks/{props['id']}/execute", json={"input": {"a" * 40 + "!": 1}})
    body = assert_problem(response, 422, "input-validation-failed")
    assert body["errors"][0]["schema_path"].startswith("$.patternProperties")


@pytest.mark.parametrize("pattern", ["[z-a]", "a{99999999999}", "(" * 3000 + ")" * 3000])
async def test_patterns_that_do_not_compile_are_refused(client: httpx.AsyncClient, unique: str, pattern: str) -> None:
    response = await client.post(
        "/v1/tasks",
        json={"name": f"Bad pattern {unique}", "script": SCRIPT,
              "input_schema": {"properties": {"s": {"pattern": pattern}}}},
    )
    body = assert_problem(response, 422, "invalid-input-schema")
    assert body["errors"][0]["path"] in ("$.properties.s.pattern", "$")
    # a caller's string checked as `format: regex` is refused the same way
    task = await make_task(client, f"Regex format {unique}", input_schema={"format": "regex"})
    response = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": pattern})
    assert assert_problem(response, 422, "input-validation-failed")["errors"][0]["validator"] == "format"


@pytest.mark.parametrize("schema", [{"$schema": 5}, {"$ref": 5}, {"pattern": 7}])
async def test_schemas_jsonschema_cannot_use_are_refused_at_save(
    client: httpx.AsyncClient, unique: str, schema: dict
) -> None:
    response = await client.post("/v1/tasks", json={"name": f"Odd schema {unique}", "script": SCRIPT,
                                                    "input_schema": schema})
    assert assert_problem(response, 422, "invalid-input-schema")["errors"][0]["field"] == "input_schema"


async def test_remote_refs_are_never_fetched(client: httpx.AsyncClient, unique: str) -> None:
    hits: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.read(1024))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        task = await make_task(
            client, f"Remote ref {unique}", input_schema={"$ref": f"http://127.0.0.1:{port}/schema.json"}
        )
        response = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {}})
        body = assert_problem(response, 422, "input-validation-failed")
        assert body["errors"][0]["validator"] == "$ref"
        assert hits == []
    finally:
        server.close()


# --- schedules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cron": "0 7 * * *", "timezone": "America"}, "timezone"),
        ({"cron": "0 7 * * *", "timezone": "Europe/" + "x" * 5000}, "timezone"),
        ({"cron": "0 7 * * *", "timezone": "../../etc/passwd"}, "timezone"),
        ({"interval": 1e300}, "interval"),
        ({"interval": "9" * 400 + "d"}, "interval"),
        ({"interval": 10**30}, "interval"),
        ({"interval": "5m", "jitter": 1e300}, "jitter"),
        ({"interval": "5m", "catchup_window": 10**20}, "catchup_window"),
        ({"interval": "1h", "offset": 10**20}, "offset"),
        ({"cron": "9" * 5000 + " * * * *"}, "cron"),
    ],
)
async def test_bad_schedules_are_422_naming_the_field(
    client: httpx.AsyncClient, unique: str, fields: dict, field: str
) -> None:
    task = await make_task(client, f"Sched {field} {unique}")
    response = await client.put(f"/v1/tasks/{task['id']}/schedule", json=fields)
    body = assert_problem(response, 422)
    assert body["type"].rsplit("/", 1)[1] in ("invalid-schedule", "validation-error")
    field_error(body, field)
    assert len(response.text) < 5000


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "start"),
        ("0001-01-01T00:00:00+05:00", "2026-01-01T00:00:00Z", "start"),
        ("2025-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "end"),
        ("2025-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "end"),
        ("1990-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "end"),
    ],
)
async def test_backfill_and_fire_times_out_of_range_are_422(
    client: httpx.AsyncClient, unique: str, start: str, end: str, field: str
) -> None:
    task = await make_task(client, f"Backfill {unique}")
    response = await client.post(f"/v1/tasks/{task['id']}/schedule/backfill", json={"start": start, "end": end})
    field_error(assert_problem(response, 422), field)
    response = await client.get(f"/v1/tasks/{task['id']}/schedule/fire-times", params={"start": start, "end": end})
    field_error(assert_problem(response, 422), field, "query")


# --- methods -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("GET", "/v1/tasks/execute", {"POST"}),
        ("OPTIONS", "/v1/tasks/execute", {"POST"}),
        ("DELETE", "/v1/tasks", {"GET", "POST"}),
        ("POST", "/v1/tasks/some_task", {"GET", "PATCH", "DELETE"}),
        ("PUT", "/v1/task-runs/x", {"GET"}),
    ],
)
async def test_405_lists_every_allowed_method(client: httpx.AsyncClient, method: str, url: str, allow: set) -> None:
    response = await client.request(method, url)
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == allow


def test_every_route_reads_its_body_through_the_bounded_route_class(app) -> None:
    from fastapi.routing import APIRoute, iter_route_contexts

    from api.route import CytasksRoute

    api_routes = [ctx.original_route for ctx in iter_route_contexts(app.router.routes)
                  if isinstance(ctx.original_route, APIRoute)]
    assert len(api_routes) > 20
    assert [route.path for route in api_routes if not isinstance(route, CytasksRoute)] == []
