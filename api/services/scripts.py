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


async def compile_check(state: AppState, script: str) -> None:
    """422 when the script is too large, or with the Cy errors (type, message, line, column) when
    it does not compile. The compile runs in a thread: it is sized by the caller."""
    check_script_size(state, script)
    async with state.compile_slots:
        errors = await off_loop(run_engine.check_script, script, state.registry)
    if errors:
        first = errors[0]
        where = f" at line {first['line']}, column {first['column']}" if first.get("line") else ""
        raise ProblemError(
            422,
            "invalid-script",
            f"{first['type']}{where}: {first['message']}",
            errors=errors,
        )
