"""``/mcp``: the MCP server over streamable HTTP, mounted in the API app.

A request needs a valid API key (401 problem+json otherwise, like ``/v1``) and a body within
``CYTASKS_MAX_BODY_BYTES`` (413 problem+json, read before the MCP transport sees it); every tool then
calls this same app in-process with the caller's own ``Authorization`` header and address,
so each tool call is authorized, validated and audited as the API call it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Message, Receive, Scope, Send

from ..deps import bearer_scheme, get_state, require_api_key
from ..route import CytasksRoute, read_body
from .gateway import ApiGateway, in_process_gateway
from .tools import build_server

MCP_PATH = "/mcp"


class _Delegated(Response):
    """Hands the whole exchange to the MCP transport once the endpoint has checked the key and
    read the body (which the transport is given again)."""

    def __init__(self, manager: StreamableHTTPSessionManager, body: bytes) -> None:
        super().__init__()
        self._manager = manager
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": self._body, "more_body": False}
            return await receive()

        await self._manager.handle_request(scope, replay, send)


def _callers_gateway(app: FastAPI):
    @asynccontextmanager
    async def gateway(ctx: Context) -> AsyncIterator[ApiGateway]:
        request = ctx.request_context.request
        address = (request.client.host, request.client.port) if request.client else None
        api = in_process_gateway(app, request.headers.get("authorization", ""), address)
        try:
            yield api
        finally:
            await api.aclose()

    return gateway


@asynccontextmanager
async def serving(server: MCPServer) -> AsyncIterator[None]:
    """Runs the server's session manager while the context lasts, in a task of its own: its task
    group must be entered and left by one task, and an app's start and end may run in two."""
    stop = asyncio.Event()
    started = asyncio.Event()

    async def run() -> None:
        async with server.session_manager.run():
            started.set()
            await stop.wait()

    runner = asyncio.create_task(run(), name="mcp-sessions")
    ready = asyncio.create_task(started.wait())
    await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if runner.done():
        runner.result()
    try:
        yield
    finally:
        stop.set()
        await runner


def install_mcp(app: FastAPI) -> MCPServer:
    """Serve the MCP server at ``/mcp``; the app's lifespan runs it with ``serving``."""
    server = build_server(_callers_gateway(app))
    # Stateless: each POST carries the caller's key and stands alone, so any API process can
    # answer it. The API key is what keeps other web pages out, not the Host header.
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        max_request_body_size=app.state.settings.MAX_BODY_BYTES,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager

    # POST only: stateless, the server has no stream of its own to offer (GET) nor a session to end (DELETE).
    router = APIRouter(route_class=CytasksRoute)

    @router.api_route(MCP_PATH, methods=["POST"], include_in_schema=False)
    async def mcp_endpoint(request: Request) -> Response:
        # The key is checked on a session of its own, given back before the exchange (which may
        # wait on a run for a minute) starts; the tools' API calls take their own.
        state = await get_state(request)
        credentials = await bearer_scheme(request)
        async with state.sessionmaker() as session:
            await require_api_key(state, session, credentials)
        body = await read_body(request, state.settings.MAX_BODY_BYTES)
        return _Delegated(manager, body)

    app.include_router(router)
    return server
