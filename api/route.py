"""The route class of every endpoint: bounded, strict JSON request bodies.

FastAPI reads the body itself; this class reads it first, counting bytes as they arrive
(a body above `MAX_BODY_BYTES` is answered 413 without being buffered), and parses JSON
bodies strictly (see `json_body`), off the event loop when they are large. FastAPI then
finds the parsed body where Starlette caches it.

Also here: the `task_ref` path convertor, which keeps `/v1/tasks/{task_id}` from matching
`/v1/tasks/execute`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.convertors import StringConvertor, register_url_convertor

from .json_body import JSONBodyRejected, is_json_content_type, parse_strict
from .offload import off_loop
from .problems import ProblemError, problem_responses

PARSE_OFF_LOOP_BYTES = 64 * 1024
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def body_too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        "payload-too-large",
        f"The request body is larger than the limit of {limit} bytes",
        errors=[{"field": "body", "in": "body", "message": f"at most {limit} bytes"}],
    )


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's cache, read by FastAPI
    return body


def _rejected(error: JSONBodyRejected) -> ProblemError:
    where = f"body.{error.field}" if error.field and not error.field.startswith("[") else f"body{error.field}"
    return ProblemError(
        422,
        "validation-error",
        f"{where}: {error.message}",
        errors=[{"field": error.field or "body", "in": "body", "message": error.message, "type": error.kind}],
    )


async def parse_body(request: Request) -> None:
    settings = request.app.state.settings
    body = await read_body(request, settings.MAX_BODY_BYTES)
    if not body or not is_json_content_type(request.headers.get("content-type")):
        return
    try:
        if len(body) > PARSE_OFF_LOOP_BYTES:
            value = await off_loop(parse_strict, body, settings.MAX_JSON_DEPTH)
        else:
            value = parse_strict(body, settings.MAX_JSON_DEPTH)
    except JSONBodyRejected as error:
        raise _rejected(error) from None
    request._json = value  # Starlette's cache, read by FastAPI


class CytasksRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        declared = kwargs.get("responses") or {}
        if BODY_METHODS & set(kwargs.get("methods") or ()):
            kwargs["responses"] = {**problem_responses(413), **declared}
        super().__init__(path, endpoint, **kwargs)
        if self.body_field is None and 413 not in declared:  # only a route that reads a body answers 413
            self.responses.pop(413, None)
            self.response_fields.pop(413, None)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reads_body = self.body_field is not None

        async def bounded_handler(request: Request) -> Response:
            if reads_body and request.method not in BODYLESS_METHODS:
                await parse_body(request)
            return await handler(request)

        return bounded_handler


class TaskRefConvertor(StringConvertor):
    """A task's id or cy_name in a path, never the literal `execute` (`/v1/tasks/execute` is ad-hoc runs)."""

    regex = r"(?!execute(?:/|$))[^/]+"


register_url_convertor("task_ref", TaskRefConvertor())
