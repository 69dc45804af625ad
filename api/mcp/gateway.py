"""How an MCP tool reaches the cytasks API: one HTTP request per step, as client ``mcp``.

A problem document the API answers becomes a ``ToolError`` whose text is the problem's title,
detail and field errors, so roles, validation and auditing are exactly the API's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from mcp.server.mcpserver.exceptions import ToolError

from ..deps import MAX_WAIT_SECONDS

CLIENT = "mcp"
TIMEOUT_SECONDS = MAX_WAIT_SECONDS + 30.0
"""Long enough for the longest long poll a tool asks for."""
HEADERS = {
    "X-Cytasks-Trigger": CLIENT,
    "User-Agent": "cytasks-mcp",
    "Accept": "application/json, application/problem+json",
}


def problem_text(status: int, problem: Mapping[str, Any]) -> str:
    """A problem document as one readable message: title, detail, then each error's field and place."""
    title = str(problem.get("title") or f"HTTP {status}")
    lines = [f"{title} ({status})"]
    detail = problem.get("detail")
    if detail:
        lines[0] += f": {detail}"
    errors = problem.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, Mapping):
            continue
        where = [f"{key} {error[key]}" for key in ("line", "column") if error.get(key) is not None]
        subject = error.get("field") or error.get("type") or "error"
        place = f" ({', '.join(where)})" if where else ""
        lines.append(f"- {subject}{place}: {error.get('message', '')}")
    for key in ("required_permission", "required_roles"):
        if problem.get(key):
            value = problem[key]
            lines.append(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    return "\n".join(lines)


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"title": response.reason_phrase or f"HTTP {response.status_code}", "detail": response.text[:500] or None}


class ApiGateway:
    """The API as the tools see it: ``call`` answers the JSON body or raises a ``ToolError``."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        query = {name: value for name, value in (params or {}).items() if value is not None}
        try:
            response = await self._http.request(method, path, json=json, params=query)
        except httpx.TransportError as error:
            raise ToolError(f"cannot reach the cytasks API at {self._http.base_url}: {error}") from error
        if response.status_code >= 400:
            raise ToolError(problem_text(response.status_code, _problem(response)))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def aclose(self) -> None:
        await self._http.aclose()


def remote_gateway(base_url: str, api_key: str | None) -> ApiGateway:
    """The API at ``base_url``, called with ``api_key`` (stdio: ``cytasks mcp``)."""
    headers = dict(HEADERS)
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return ApiGateway(httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=TIMEOUT_SECONDS))


def in_process_gateway(app: Any, authorization: str, client_address: tuple[str, int] | None) -> ApiGateway:
    """The API app of this process, called with the MCP caller's own credentials and address."""
    transport = httpx.ASGITransport(app=app, client=client_address or ("127.0.0.1", 0))
    headers = {**HEADERS, "Authorization": authorization}
    return ApiGateway(
        httpx.AsyncClient(transport=transport, base_url="http://cytasks", headers=headers, timeout=TIMEOUT_SECONDS)
    )
