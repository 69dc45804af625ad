"""`POST /v1/scripts/check`: compile a Cy script without saving or running it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import StateDep
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import ScriptCheck, ScriptCheckRequest
from ..services.scripts import script_errors

router = APIRouter(prefix="/scripts", tags=["scripts"], route_class=CytasksRoute)


@router.post(
    "/check",
    response_model=ScriptCheck,
    summary="Compile a Cy script against the tool registry and list its errors with line and column",
    responses=problem_responses(422),
)
async def check_script(body: ScriptCheckRequest, state: StateDep) -> Any:
    errors = await script_errors(state, body.script)
    return {"valid": not errors, "errors": errors}
