"""``app::http::request``: an HTTP call whose answer the script can read."""

from __future__ import annotations

import json
from typing import Any

import httpx

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


async def http_request(
    method: str,
    url: str,
    headers: dict | None = None,
    body: Any = None,
    timeout: float = 30,
) -> dict[str, Any]:
    """Send an HTTP request; answers ``{"status", "headers", "body"}`` (JSON bodies parsed)."""
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"request() method must be one of {', '.join(sorted(METHODS))}, got {method!r}")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"request() url must be an http(s) URL, got {url!r}")
    if headers is not None and not isinstance(headers, dict):
        raise ValueError(f"request() headers must be dict, got {type(headers).__name__}")
    kwargs: dict[str, Any] = {"headers": {str(k): str(v) for k, v in (headers or {}).items()}}
    if isinstance(body, (dict, list)):
        kwargs["json"] = body
    elif body is not None:
        kwargs["content"] = str(body).encode()
    async with httpx.AsyncClient(timeout=timeout) as client:
        response = await client.request(method.upper(), url, **kwargs)
    text = response.text
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return {"status": response.status_code, "headers": dict(response.headers), "body": parsed}
