"""``cytasks mcp``: the MCP server over stdio, for desktop MCP clients (docs/mcp.md).

Its tools call the cytasks API at ``CYTASKS_URL`` with ``CYTASKS_API_KEY``, like the CLI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import typer

from .client import configured_key, configured_url


def serve_stdio(base_url: str, api_key: str | None) -> None:
    from api.mcp.gateway import remote_gateway
    from api.mcp.tools import build_server

    async def main() -> None:
        api = remote_gateway(base_url, api_key)

        @asynccontextmanager
        async def gateway(_ctx: Any) -> AsyncIterator[Any]:
            yield api

        try:
            await build_server(gateway).run_stdio_async()
        finally:
            await api.aclose()

    anyio.run(main)


def mcp(
    url: str = typer.Option(None, "--url", help="The API's URL (default: $CYTASKS_URL, else http://127.0.0.1:8000)."),
) -> None:
    """Serve the cytasks MCP tools over stdio (for an MCP client such as a desktop assistant)."""
    api_key = configured_key()
    if not api_key:
        typer.echo("cytasks mcp: set CYTASKS_API_KEY to the API key the tools should use", err=True)
        raise typer.Exit(2)
    serve_stdio(configured_url(url), api_key)


def register_commands(app: typer.Typer) -> None:
    app.command("mcp")(mcp)
