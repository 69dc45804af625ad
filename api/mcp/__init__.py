"""The cytasks MCP server: tools that are thin calls of the HTTP API, served over stdio by
``cytasks mcp`` and over streamable HTTP at ``/mcp`` (docs/mcp.md)."""
