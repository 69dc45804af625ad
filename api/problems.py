"""RFC 9457 problem details: the one error format the API answers with.

Every error response has the content type ``application/problem+json`` and the members
``type`` (a stable URI), ``title``, ``status``, ``detail`` and ``instance``; validation
failures add ``errors``, a list of objects each with a ``message`` and whatever locates
the fault (``field`` and ``in`` for request fields, ``path`` for a JSON path inside the
run input, ``line`` and ``column`` for a Cy script).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE_URI = "https://cytasks.dev/problems/"


def problem_type(slug: str) -> str:
    return PROBLEM_BASE_URI + slug


# slug -> title; the catalogue of problem types the API can answer with.
TITLES: dict[str, str] = {
    "bad-request": "Bad request",
    "unauthorized": "Missing or invalid API key",
    "forbidden": "Forbidden",
    "not-found": "Resource not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflict",
    "payload-too-large": "Request body too large",
    "validation-error": "Request validation failed",
    "invalid-script": "Script does not compile",
    "invalid-input-schema": "Invalid JSON Schema",
    "invalid-output-schema": "Invalid JSON Schema",
    "input-validation-failed": "Input does not match the task's input_schema",
    "invalid-cursor": "Invalid pagination cursor",
    "query-too-broad": "The listing would take too long; narrow it",
    "task-not-runnable": "Task cannot be run",
    "task-tests-failed": "The task's data samples fail",
    "run-not-replayable": "The run cannot be replayed",
    "run-not-cancellable": "Run is already finished",
    "idempotency-key-reused": "Idempotency-Key reused with a different request",
    "cy-name-conflict": "cy_name already taken",
    "workflow-start-failed": "The run could not be started",
    "invalid-signature": "The webhook delivery is not authenticated",
    "hook-disabled": "The webhook is disabled",
    "unsupported-media-type": "Unsupported media type",
    "invalid-json": "The body is not JSON",
    "service-unavailable": "Service unavailable",
    "internal-error": "Internal server error",
}

STATUS_SLUGS: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    503: "service-unavailable",
}


class ProblemFieldError(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str


class Problem(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "https://cytasks.dev/problems/not-found",
                "title": "Resource not found",
                "status": 404,
                "detail": "No task with id or cy_name 'summarize'",
                "instance": "/v1/tasks/summarize",
            }
        },
    )

    type: str = Field(description="Stable URI identifying the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or slug)
        self.status = status
        self.slug = slug
        self.title = title or TITLES.get(slug) or slug.replace("-", " ").capitalize()
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra

    def body(self, instance: str | None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors is not None:
            doc["errors"] = self.errors
        doc.update(self.extra)
        return doc


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, "not-found", detail)


def task_not_found(ident: object) -> ProblemError:
    return not_found(f"No task with id or cy_name '{ident}'")


def run_not_found(run_id: object) -> ProblemError:
    return not_found(f"No task run with id '{run_id}'")


def invalid_cursor(error: Exception) -> ProblemError:
    return ProblemError(
        400,
        "invalid-cursor",
        "The cursor is not one this API returned; start again without it",
        errors=[{"field": "cursor", "in": "query", "message": str(error)}],
    )


def problem_response(
    status: int,
    slug: str,
    detail: str | None,
    instance: str | None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    exc = ProblemError(status, slug, detail, errors=errors, headers=headers)
    return JSONResponse(exc.body(instance), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _request_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        where = loc[0] if loc else "body"
        field_parts = loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc
        if err.get("type") == "json_invalid":
            field_parts = []
        entry: dict[str, Any] = {
            "field": ".".join(field_parts) if field_parts else where,
            "in": where,
            "message": err.get("msg", "invalid value"),
            "type": err.get("type", "value_error"),
        }
        errors.append(entry)
    return errors


RETRY_AFTER_SECONDS = "5"


def _with_retry_after(status: int, headers: dict[str, str] | None) -> dict[str, str] | None:
    """Every 503 says when to come back."""
    if status != 503 or (headers and "Retry-After" in headers):
        return headers
    return {**(headers or {}), "Retry-After": RETRY_AFTER_SECONDS}


async def _handle_problem(request: Request, exc: ProblemError) -> JSONResponse:
    return JSONResponse(
        exc.body(request.url.path),
        status_code=exc.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=_with_retry_after(exc.status, exc.headers),
    )


def allowed_methods(request: Request) -> str:
    """Every method some route of this path answers (Starlette names only the first route's)."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Match

    scope = {**request.scope, "method": "NO-SUCH-METHOD"}
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        match, _ = route.matches(scope)
        if match is not Match.NONE and route.methods:
            methods.update(route.methods)
    return ", ".join(sorted(methods))


async def _handle_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _request_errors(exc)
    if len(errors) == 1:
        detail = f"{errors[0]['in']} field '{errors[0]['field']}': {errors[0]['message']}"
    else:
        detail = f"{len(errors)} request fields are invalid"
    return problem_response(422, "validation-error", detail, request.url.path, errors=errors)


async def _handle_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    slug = STATUS_SLUGS.get(exc.status_code, "bad-request" if exc.status_code < 500 else "internal-error")
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = getattr(exc, "headers", None)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}"
    if exc.status_code == 405:
        allow = allowed_methods(request)
        headers = {**(headers or {}), "Allow": allow}
        detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allow}"
    return problem_response(
        exc.status_code, slug, detail, request.url.path, headers=_with_retry_after(exc.status_code, headers)
    )


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        500, "internal-error", f"{type(exc).__name__}: the server failed to handle the request", request.url.path
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _handle_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _handle_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _handle_unexpected)


RESPONSE_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "string"}}},
}


def _problem_content(status: int, description: str) -> dict[str, Any]:
    content: dict[str, Any] = {"description": description, "model": Problem, "content": {PROBLEM_CONTENT_TYPE: {}}}
    if status in RESPONSE_HEADERS:
        content["headers"] = RESPONSE_HEADERS[status]
    return content


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem bodies for the given statuses."""
    descriptions = {
        400: "Bad request",
        401: "Missing or invalid API key",
        404: "Not found",
        405: "Method not allowed (the `Allow` header lists the allowed ones)",
        409: "Conflict with the resource's state",
        413: "The request body is larger than `CYTASKS_MAX_BODY_BYTES`",
        415: "The body is not of a media type the route takes",
        422: "Validation failed (request fields, Cy compile errors or input schema)",
        500: "A bug; the server log has the traceback",
        503: "A dependency (database or Temporal) is unavailable; retry after `Retry-After` seconds",
    }
    return {status: _problem_content(status, descriptions.get(status, "Error")) for status in statuses}


def install_problem_openapi(app: FastAPI) -> None:
    """Declare error bodies as `application/problem+json` (FastAPI alone would say application/json)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict):
                    continue
                for status, response in operation.get("responses", {}).items():
                    if not str(status).isdigit() or int(status) < 400:
                        continue
                    content = response.get("content", {})
                    json_content = content.pop("application/json", None)
                    if json_content is not None:
                        content[PROBLEM_CONTENT_TYPE] = json_content
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
