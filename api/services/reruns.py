"""Run again: a new run of the same task version (or the same ad hoc script) with the same
input, started like any other run (input validation, audit) with the trigger the caller names."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import TaskRun

from ..authz import Permission, forbidden, may, sees_payloads
from ..problems import ProblemError
from ..state import AppState, Principal
from .run_values import run_input
from .schema_checks import validate_input_off_loop
from .scripts import compile_check
from .submission import Submission, submit_run
from .task_lookup import ensure_runnable, load_task
from .task_versions import pinned_version


async def rerun(state: AppState, session: AsyncSession, principal: Principal, run: TaskRun, *, trigger: str) -> Submission:
    """Start ``run`` again as a new run. It needs runs:execute, and reading the run's input
    (the new run would show it to its starter); a task's run needs the task to be runnable and
    its version to still exist, and the input is checked against that version's schema again."""
    if not may(principal, Permission.RUNS_EXECUTE):
        raise forbidden(principal, Permission.RUNS_EXECUTE)
    if not sees_payloads(principal, run):
        raise forbidden(
            principal,
            Permission.RUNS_PAYLOADS,
            f"API key '{principal.name}' may not run run {run.id} again: its input is only readable with the "
            "payloads role (or by the key that started it)",
        )
    value = await run_input(state.blob_store, run)
    fingerprint = {"rerun_of": str(run.id), "trigger": trigger}
    if run.task_id is None:
        if run.cy_script is None:
            raise ProblemError(409, "run-not-repeatable", f"Run {run.id} has neither a task nor a script to run again")
        await compile_check(state, run.cy_script)
        return await submit_run(
            state, session, principal, trigger=trigger, input=value, idempotency_key=None,
            request_fingerprint=fingerprint, script=run.cy_script,
        )
    task = await load_task(session, str(run.task_id))
    ensure_runnable(task)
    pinned = await pinned_version(session, task, run.task_version)
    await validate_input_off_loop(state.settings, pinned.input_schema, value)
    return await submit_run(
        state, session, principal, trigger=trigger, input=value, idempotency_key=None,
        request_fingerprint=fingerprint, task=task, pinned=pinned,
    )
