"""Cy scripts a request brings must fit the size limit and compile against the tool registry."""

from __future__ import annotations

from ..offload import off_loop
from ..problems import ProblemError
from ..state import AppState
from . import runs as run_engine


def check_script_size(state: AppState, script: str) -> None:
    limit = state.settings.MAX_SCRIPT_BYTES
    size = len(script.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise ProblemError(
            422,
            "validation-error",
            f"body field 'script': the script is {size} bytes (UTF-8); the limit is {limit}",
            errors=[{"field": "script", "in": "body", "message": f"at most {limit} bytes", "type": "script_too_large"}],
        )


async def script_errors(state: AppState, script: str) -> list[dict]:
    """The Cy errors (type, message, line, column) of a script; empty when it compiles. 422 when
    it is too large. The compile runs in a thread, one of a bounded number at once."""
    check_script_size(state, script)
    async with state.compile_slots:
        return await off_loop(run_engine.check_script, script, state.registry)


async def compile_check(state: AppState, script: str) -> None:
    """422 when the script is too large, or with the Cy errors (type, message, line, column) when
    it does not compile."""
    errors = await script_errors(state, script)
    if errors:
        first = errors[0]
        where = f" at line {first['line']}, column {first['column']}" if first.get("line") else ""
        raise ProblemError(
            422,
            "invalid-script",
            f"{first['type']}{where}: {first['message']}",
            errors=errors,
        )
