"""Testing tasks without side effects: a version (or an unsaved script) on data samples, a
finished run replayed against another version, a batch of recent runs replayed, and the
check `test_on_save` puts on every change of a task.

The product logic is in `tasktests`; this module finds what it needs (the task, its version,
the run, its recorded tool calls in Temporal, its answered questions) and answers problems.
Scripts run in the API process on the CPU pool (`offload`), never as a run: no run row, no
workflow, no real tool call.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hitl.tool import ASK_FQN
from persistence.models import TERMINAL_RUN_STATUSES, Task, TaskRun
from persistence.repository import questions as question_repo
from persistence.repository import runs as run_repo
from taskrun.contract import workflow_id_for
from tasktests import (
    Sample,
    SampleError,
    parse_samples,
    recorded_answers,
    recorded_calls,
    replay_run,
    run_samples,
    summary,
)
from tasktests.runner import TIME_BUDGET_SECONDS

from ..authz import Permission, forbidden, sees_payloads
from ..offload import off_loop
from ..problems import ProblemError
from ..schemas import MAX_REPLAY_BATCH, DataSample
from ..state import AppState, Principal
from . import runs as run_engine
from .run_values import run_input, run_output
from .schema_checks import check_json_schema
from .scripts import compile_check
from .task_lookup import TaskRef
from .task_versions import PinnedVersion, pinned_version

def _one_of_version_and_script(version: int | None, script: str | None) -> None:
    if version is not None and script is not None:
        raise ProblemError(
            422,
            "validation-error",
            "give either version (a saved version) or script (an unsaved one), not both",
            errors=[{"field": "script", "in": "body", "message": "not together with version"}],
        )


async def _subject(
    state: AppState, session: AsyncSession, ref: TaskRef, version: int | None, script: str | None
) -> tuple[Task, PinnedVersion, str, int | None]:
    """The task, the version whose settings apply, the script to run and its version number
    (None for an unsaved script, which takes the current version's output_schema)."""
    _one_of_version_and_script(version, script)
    if script is not None:
        await compile_check(state, script)
    task = await ref.load()
    pinned = await pinned_version(session, task, version)
    if script is not None:
        return task, pinned, script, None
    return task, pinned, pinned.script, pinned.version


def samples_of(state: AppState, raw: list[Any] | None, field: str) -> list[Sample]:
    """Samples parsed against the server's registry; 422 naming the sample's field at fault
    (also for an expected_output that is not a valid JSON Schema)."""
    try:
        samples = parse_samples(raw or [], state.registry, "$")
    except SampleError as error:
        location = field + error.path[1:]
        raise ProblemError(
            422,
            "validation-error",
            f"{location}: {error.message}",
            errors=[{"field": location, "in": "body", "message": error.message}],
        ) from None
    for index, sample in enumerate(samples):
        if sample.expects_schema:
            location = f"{field}[{index}].expected_output"
            try:
                check_json_schema(sample.expected_output, location)
            except ProblemError as problem:
                raise ProblemError(422, "validation-error", problem.detail, errors=problem.errors) from None
    return samples


def _raw_samples(samples: list[DataSample] | None) -> list[dict[str, Any]] | None:
    if samples is None:
        return None
    return [sample.model_dump(mode="json", exclude_unset=True) for sample in samples]


async def test_task(
    state: AppState,
    session: AsyncSession,
    ref: TaskRef,
    *,
    version: int | None,
    script: str | None,
    samples: list[DataSample] | None,
) -> dict[str, Any]:
    """Each sample run on the version (or script), with its report and the summary."""
    task, pinned, source, number = await _subject(state, session, ref, version, script)
    given = _raw_samples(samples)
    field = "samples" if given is not None else "data_samples"
    parsed = await off_loop(samples_of, state, given if given is not None else task.data_samples, field)
    reports = await off_loop(run_samples, source, parsed, pinned.output_schema)
    return {
        "task_id": task.id,
        "version": number,
        "samples_from": "request" if given is not None else "task",
        "summary": summary(reports),
        "items": [report.as_dict() for report in reports],
    }


async def check_on_save(
    state: AppState, *, script: str, output_schema: Any, data_samples: list[Any] | None, field: str = "data_samples"
) -> None:
    """422 `task-tests-failed` with the per-sample report when a sample fails ``script``."""
    parsed = await off_loop(samples_of, state, data_samples, field)
    reports = await off_loop(run_samples, script, parsed, output_schema)
    failed = [report for report in reports if not report.passed]
    if not failed:
        return
    first = failed[0]
    label = f"sample {first.index}" + (f" ({first.name})" if first.name else "")
    raise ProblemError(
        422,
        "task-tests-failed",
        f"test_on_save: {len(failed)} of {len(reports)} data samples fail; {label}: {first.reason}",
        errors=[
            {"field": f"data_samples[{report.index}]", "in": "body", "message": report.reason or "failed"}
            for report in failed
        ],
        summary=summary(reports),
        items=[report.as_dict() for report in reports],
    )


# -- replay ----------------------------------------------------------------------------


def _run_field_problem(message: str) -> ProblemError:
    return ProblemError(
        422, "validation-error", f"run_id: {message}", errors=[{"field": "run_id", "in": "body", "message": message}]
    )


async def _recorded(state: AppState, session: AsyncSession, run: TaskRun) -> dict[str, Any]:
    """A finished run's input, output and the answers its tools (and people) gave it."""
    client = await state.temporal_client()
    try:
        events = await run_engine.tool_history_events(client, run.workflow_id or workflow_id_for(str(run.id)), state.registry)
    except run_engine.HistoryUnavailable:
        raise ProblemError(
            409,
            "run-not-replayable",
            f"Temporal no longer has the history of run {run.id} (it keeps closed workflows for its retention period)",
            run_id=str(run.id),
        ) from None
    calls = recorded_calls(events, state.registry)
    human: list[Any] = []
    for question in await question_repo.run_questions(session, run.id):
        if question.status == "answered":
            human.append(question.answer)
        elif question.status == "expired" and question.has_default:
            human.append(question.default)
    return {
        "input": await run_input(state.blob_store, run),
        "output": await run_output(state.blob_store, run),
        "answers": recorded_answers(calls, {ASK_FQN: human} if human else None),
        "calls": len(calls) + len(human),
    }


async def _replay_one(
    state: AppState, session: AsyncSession, run: TaskRun, script: str, output_schema: Any
) -> dict[str, Any]:
    recorded = await _recorded(state, session, run)
    result = await off_loop(
        replay_run, script, recorded["input"], recorded["answers"], recorded["output"], output_schema
    )
    return {
        "run_id": run.id,
        "recorded_version": run.task_version,
        "recorded_status": run.status,
        "recorded_calls": recorded["calls"],
        **result,
    }


async def replay(
    state: AppState,
    session: AsyncSession,
    principal: Principal,
    ref: TaskRef,
    *,
    run_id: uuid.UUID,
    version: int | None,
    script: str | None,
) -> dict[str, Any]:
    """The run replayed with its recorded tool results against the version (or script)."""
    task, pinned, source, number = await _subject(state, session, ref, version, script)
    run = await run_repo.get_run(session, run_id)
    if run is None:
        raise _run_field_problem(f"no run with id {run_id}")
    if run.task_id != task.id:
        raise _run_field_problem(f"run {run_id} is not a run of task '{task.cy_name}'")
    if run.status not in TERMINAL_RUN_STATUSES:
        raise ProblemError(
            409,
            "run-not-replayable",
            f"run {run_id} is {run.status}: only a finished run can be replayed",
            run_id=str(run_id),
            run_status=run.status,
        )
    if not sees_payloads(principal, run):
        raise _payloads_forbidden(principal, f"run {run.id}")
    result = await _replay_one(state, session, run, source, pinned.output_schema)
    return {"task_id": task.id, "version": number, **result}


def _payloads_forbidden(principal: Principal, what: str) -> ProblemError:
    return forbidden(
        principal,
        Permission.RUNS_PAYLOADS,
        f"API key '{principal.name}' may not replay {what}: a replay shows the run's input and output, "
        "which needs the payloads role (or being the runner that started it)",
    )


async def replay_batch(
    state: AppState,
    session: AsyncSession,
    principal: Principal,
    ref: TaskRef,
    *,
    version: int | None,
    script: str | None,
    last: int | None,
    created_after: datetime | None,
    created_before: datetime | None,
) -> dict[str, Any]:
    """The task's last completed runs (newest first, within the time range) replayed."""
    if last is None and created_after is None and created_before is None:
        raise ProblemError(
            422,
            "validation-error",
            "say which runs to replay: last (a number of runs) or a time range (created_after, created_before)",
            errors=[{"field": "last", "in": "body", "message": "give last or a time range"}],
        )
    if created_after is not None and created_before is not None and created_before <= created_after:
        raise ProblemError(
            422,
            "validation-error",
            "created_before must be later than created_after",
            errors=[{"field": "created_before", "in": "body", "message": "not after created_after"}],
        )
    task, pinned, source, number = await _subject(state, session, ref, version, script)
    limit = last or MAX_REPLAY_BATCH
    found = await run_repo.list_runs(
        session,
        task_id=task.id,
        status="completed",
        created_after=created_after,
        created_before=created_before,
        limit=limit,
    )
    runs = list(found.items)
    hidden = [run for run in runs if not sees_payloads(principal, run)]
    if hidden:
        raise _payloads_forbidden(principal, f"{len(hidden)} of the {len(runs)} runs selected")

    deadline = time.monotonic() + TIME_BUDGET_SECONDS

    def not_replayed(run: TaskRun, error_type: str, message: str | None) -> dict[str, Any]:
        return {
            "run_id": run.id,
            "recorded_version": run.task_version,
            "recorded_status": run.status,
            "recorded_calls": 0,
            "outcome": "failed",
            "output": None,
            "recorded_output": None,
            "diff": [],
            "error": {"type": error_type, "message": message, "line": 0, "column": 0},
            "output_schema_failures": [],
            "logs": [],
            "tool_calls": [],
        }

    async def one(run: TaskRun) -> dict[str, Any]:
        if time.monotonic() > deadline:
            return not_replayed(
                run, "TimeBudgetUsed", f"not replayed: the batch used up its time budget of {TIME_BUDGET_SECONDS:g} seconds"
            )
        try:
            return await _replay_one(state, session, run, source, pinned.output_schema)
        except ProblemError as problem:  # one run's history is gone: the others still count
            return not_replayed(run, "RunNotReplayable", problem.detail)

    # One after another: they share the request's database session.
    items = [await one(run) for run in runs]
    counts = {"total": len(items), "same": 0, "different": 0, "failed": 0}
    for item in items:
        counts[item["outcome"]] += 1
    return {
        "task_id": task.id,
        "version": number,
        "summary": counts,
        "more": found.next_cursor is not None,
        "items": items,
    }
