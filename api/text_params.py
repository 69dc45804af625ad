"""Path parameters, query parameters and headers must be text Postgres can store: no U+0000."""

from __future__ import annotations

from fastapi import Request

from .problems import ProblemError


def _refuse(where: str, name: str) -> ProblemError:
    return ProblemError(
        422,
        "validation-error",
        f"{where} field '{name}': U+0000 (NUL) is not allowed",
        errors=[{"field": name, "in": where, "message": "U+0000 (NUL) is not allowed", "type": "string_nul"}],
    )


async def reject_nul_text(request: Request) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise _refuse("path", name)
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise _refuse("query", name.replace("\x00", "\\u0000"))
    for name, value in request.headers.items():
        if "\x00" in value:
            raise _refuse("header", name)
