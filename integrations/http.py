"""``app::http::request``: an HTTP call whose answer the script can read.

Secrets stay out of the script: a header value (or the URL) may hold
``{{credential:NAME}}``, and ``auth="credential:NAME"`` sends ``Authorization: Bearer``
with it. Both are resolved here, inside the activity, only for hosts the credential is
bound to, and the answer is returned with every secret used replaced by
``[REDACTED:NAME]``.

Calls share one connection pool per event loop (kept-alive connections, as a browser keeps
them), while each call gets a client of its own: no cookie, redirect or auth state passes
from one call, run or task to the next. The pool has no cap on connections (a slow upstream
holds only its own) and closes idle ones after 2 s, before servers commonly drop them. Where
the environment names a proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``), each call
builds its client as before, so the proxy settings, ``NO_PROXY`` included, apply as httpx
reads them.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
import weakref
from typing import Any

import httpx

from .context import ToolContext
from .tls import tls_context

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
CREDENTIAL_REFERENCE = re.compile(r"\{\{\s*credential:([A-Za-z0-9_.-]+)\s*\}\}")
AUTH_PREFIX = "credential:"


_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncHTTPTransport]" = weakref.WeakKeyDictionary()


POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=20, keepalive_expiry=2.0)


def _pool() -> httpx.AsyncHTTPTransport:
    for closed in [loop for loop in _pools if loop.is_closed()]:  # one-off loops (``cytasks cy run``)
        del _pools[closed]
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = httpx.AsyncHTTPTransport(verify=tls_context(), limits=POOL_LIMITS)
    return pool


def _proxied() -> bool:
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())


async def _send(method: str, url: str, timeout: float, **kwargs: Any) -> httpx.Response:
    if _proxied():
        async with httpx.AsyncClient(timeout=timeout, verify=tls_context()) as client:
            return await client.request(method, url, **kwargs)
    # Not closed: closing a client closes its transport, the pool every call shares.
    return await httpx.AsyncClient(timeout=timeout, transport=_pool()).request(method, url, **kwargs)


def _resolve(ctx: ToolContext, text: str, url: str) -> str:
    return CREDENTIAL_REFERENCE.sub(lambda found: ctx.credential_for(found.group(1), url), text)


async def http_request(
    ctx: ToolContext,
    method: str,
    url: str,
    headers: dict | None = None,
    body: Any = None,
    timeout: float = 30,
    auth: str | None = None,
) -> dict[str, Any]:
    """Send an HTTP request; answers ``{"status", "headers", "body"}`` (JSON bodies parsed)."""
    if not isinstance(ctx, ToolContext):
        ctx = ToolContext()
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"request() method must be one of {', '.join(sorted(METHODS))}, got {method!r}")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"request() url must be an http(s) URL, got {url!r}")
    if headers is not None and not isinstance(headers, dict):
        raise ValueError(f"request() headers must be dict, got {type(headers).__name__}")
    if auth is not None and (not isinstance(auth, str) or not auth.startswith(AUTH_PREFIX)):
        raise ValueError(f"request() auth must be 'credential:<name>', got {auth!r}")
    target = _resolve(ctx, url, url)
    sent = {str(k): _resolve(ctx, str(v), url) for k, v in (headers or {}).items()}
    if auth is not None:
        sent["Authorization"] = "Bearer " + ctx.credential_for(auth[len(AUTH_PREFIX):], url)
    kwargs: dict[str, Any] = {"headers": sent}
    if isinstance(body, (dict, list)):
        kwargs["json"] = body
    elif body is not None:
        kwargs["content"] = str(body).encode()
    try:
        response = await _send(method.upper(), target, timeout, **kwargs)
    except httpx.HTTPError as error:
        raise RuntimeError(ctx.redact(f"{type(error).__name__}: {error}")) from None
    text = response.text
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return ctx.redact({"status": response.status_code, "headers": dict(response.headers), "body": parsed})
