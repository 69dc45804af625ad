"""The local HTTP server that the benchmarks' tool calls hit: ``GET /echo`` answers a small
JSON body. Served by uvicorn in a process of its own.

    python bench/target_server.py PORT
"""

from __future__ import annotations

import sys

import uvicorn

BODY = b'{"ok": true}'


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
