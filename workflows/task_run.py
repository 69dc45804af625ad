"""``TaskRunWorkflow``: one TaskRun, from ``running`` to a terminal status."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.runs import RunActivities
    from activities.schedules import ScheduleActivities
    from cy.errors import CyError
    from cy.values import TooBig, exported, footprint, printable
    from workflows.human_questions import HumanQuestions
    from workflows.concurrency import SlotGate, gated
    from workflows.event_delivery import deliver
    from workflows import versions
    from workflows.host import (
        BOOKKEEPING_TIMEOUT,
        COMPILE_ALONE_BYTES,
        MAX_EXPORT_CHARS,
        WORKFLOW_MAX_SCRIPT_BYTES,
        WorkflowHost,
        compiled_program,
        record_run_start,
    )
    from taskrun.contract import (
        HUMAN_RESPONDED_SIGNAL,
        SCHEDULED_START,
        STATUS,
        TASK_RUN_WORKFLOW,
        WAITING_FOR_SLOT,
        EventSource,
        RunFinished,
        RunRecorded,
        RunStarted,
        ScheduledRunPrepared,
        TaskRunRequest,
        TaskRunSummary,
        run_error,
    )
    from taskrun.events import pending_event, question_waiting_event

MAX_ERROR_MESSAGE_CHARS = 4_000
RESULT_OUTPUT_CHARS = 64 * 1024
"""A completed run's workflow result carries its output up to this size."""


def run_label(request: TaskRunRequest) -> str:
    if request.task_name:
        return f"{request.task_name} v{request.task_version}"
    return "ad-hoc"


def _where(error: dict) -> str:
    return f" (line {error['line']}, column {error['column']})" if error.get("line") else ""


class ScriptTooLarge(CyError):
    type = "ScriptTooLarge"


def internal_error(error: Exception) -> dict[str, Any]:
    """A failure of the run that is not the script's doing, as a run error."""
    return run_error("InternalError", f"The run failed unexpectedly: {type(error).__name__}: {error}")


def clean_error(error: dict[str, Any]) -> dict[str, Any]:
    """A run error fit to store: its message printable and bounded."""
    message = error.get("message")
    if isinstance(message, str):
        error = {**error, "message": printable(message, MAX_ERROR_MESSAGE_CHARS)}
    return error


@workflow.defn(name=TASK_RUN_WORKFLOW)
class TaskRunWorkflow:
    def __init__(self) -> None:
        self._status = "pending"
        self._track_status = False
        self._request: TaskRunRequest | None = None
        self._human = HumanQuestions()
        self._slot = SlotGate()

    @workflow.query
    def status(self) -> str:
        return self._status

    @workflow.signal(name=HUMAN_RESPONDED_SIGNAL)
    def human_responded(self, payload: Any) -> None:
        """An answer to the open question: ``{"question_id"?, "answer", "answered_by"?, "source"?}``.
        Checked like the API checks answers; an invalid one is recorded and ignored."""
        self._human.receive(payload)

    @workflow.signal(name="slot_granted")
    def slot_granted(self) -> None:
        """The task's semaphore gave this run a slot: it may start."""
        self._slot.grant()

    @workflow.query
    def pending_question(self) -> Optional[dict]:
        return self._human.pending()

    @workflow.query
    def rejected_signals(self) -> list:
        return list(self._human.rejected)

    async def _prepare_scheduled_run(self, request: TaskRunRequest) -> ScheduledRunPrepared | TaskRunRequest | None:
        """A Temporal Schedule started this workflow: record the run and pin the task's
        current version (the schedule itself only knows the task id and the input)."""
        request.scheduled_time = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        return await workflow.execute_local_activity_method(
            ScheduleActivities.prepare_scheduled_run,
            request,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
        )

    def _set_status(self, status: str) -> None:
        self._status = status
        if self._track_status:
            workflow.upsert_search_attributes([STATUS.value_set(status)])
        if self._request is not None:
            self._details(self._request, status)

    async def _execute(self, request: TaskRunRequest, host: WorkflowHost) -> Any:
        """Compile the pinned script and run it. A long script compiles in an activation of
        its own (the checkpoint ends the activation), so that compile and the first stretch
        of the script never add up past Temporal's deadlock limit."""
        size = len(request.script.encode("utf-8", "surrogatepass"))
        if size > WORKFLOW_MAX_SCRIPT_BYTES:
            raise ScriptTooLarge(
                f"The script has {size:,} bytes; workers run scripts of at most {WORKFLOW_MAX_SCRIPT_BYTES:,}"
            )
        program = compiled_program(request.script, request.max_iterations)
        if size > COMPILE_ALONE_BYTES and versions.patched("compile-alone"):
            await host.checkpoint()
        return await program.run_async(request.input, host=host)

    @workflow.run
    async def run(self, request: TaskRunRequest) -> TaskRunSummary:
        versions.begin(self)
        if not request.run_id:
            prepared = await self._prepare_scheduled_run(request)
            if prepared is None:
                return TaskRunSummary(run_id="", status="skipped", error_type="TaskNotRunnable")
            if isinstance(prepared, ScheduledRunPrepared):
                if prepared.subscribers and versions.patched("schedule-events"):
                    await deliver(prepared.event, prepared.subscribers)
                prepared = prepared.request
            request = prepared
        self._request = request
        # The client sets the search attributes only where the server has them registered.
        self._track_status = workflow.info().typed_search_attributes.get(STATUS) is not None
        if gated(request):
            self._slot.on_pending_too_long = lambda alerts, seconds: self._alert_pending(request, alerts, seconds)
            await self._wait_for_slot(request)
        started_at = workflow.now()
        started = RunStarted(
            request.run_id,
            started_at,
            workflow.info().run_id,
            node_run=request if request.workflow_run_id else None,
        )
        host = WorkflowHost(request)
        if not gated(request) and versions.patched("start-recorded-when-needed"):
            # Recorded before the script's first wait (by its first tool activity, beside the call),
            # or with the run's end if it never waits.
            host.start = started
        else:
            await record_run_start(started)
        self._set_status("running")

        host.live_logs = versions.patched("live-logs")
        host.human = self._human
        self._human.log = host.log
        self._human.on_status = self._set_status
        self._human.on_waiting_too_long = lambda question, alerts, seconds: self._alert_question(request, question, alerts, seconds)
        finished = RunFinished(
            run_id=request.run_id, status="completed", started_at=started_at, completed_at=started_at
        )
        cancelled: asyncio.CancelledError | None = None
        try:
            execution = self._execute(request, host)
            if request.timeout_seconds:
                outcome = await asyncio.wait_for(execution, request.timeout_seconds)
            else:
                outcome = await execution
            if outcome.returned:
                finished.output = exported(outcome.value, "output", MAX_EXPORT_CHARS)
            finished.has_output = outcome.returned
        except CyError as error:
            finished.status = "failed"
            finished.error = clean_error(error.to_dict())
        except asyncio.TimeoutError:
            finished.status = "timed_out"
            finished.error = run_error("TaskTimeout", f"The run did not finish within {request.timeout_seconds:g} seconds")
        except asyncio.CancelledError as error:
            cancelled = error
            finished.status = "cancelled"
            finished.error = run_error("Cancelled", "The run was cancelled")
        except workflow.NondeterminismError:
            raise
        except Exception as error:  # a bug must end the run, not retry its workflow task forever
            workflow.logger.exception("run %s failed unexpectedly", request.run_id)
            finished.status = "failed"
            finished.error = clean_error(internal_error(error))

        await self._human.close_open(request.run_id, finished.status)
        finished.logs = await host.logs_handed_over()
        finished.completed_at = workflow.now()
        finished.llm_usage = host.llm_usage
        finished.output_schema = request.output_schema
        if not host.start_recorded:
            finished.start = started
        finished.source = EventSource.of(request)
        recorded = await workflow.execute_local_activity_method(
            RunActivities.finish_run, finished, start_to_close_timeout=BOOKKEEPING_TIMEOUT
        )
        if isinstance(recorded, RunRecorded):
            finished.status, finished.error = recorded.status, recorded.error
        self._set_status(finished.status)
        self._details(request, finished.status, finished.error)
        await self._slot.release(request)
        await self._deliver_event(recorded)
        if cancelled is not None:
            raise cancelled
        error = finished.error or {}
        if finished.status in ("failed", "timed_out") and versions.patched("failed-runs-fail-workflows"):
            # The run's failure is the workflow's failure, so Temporal tells the same story.
            raise ApplicationError(
                f"{error.get('type')}: {error.get('message')}" + _where(error),
                {"run_id": request.run_id, "status": finished.status, "error": error},
                type=error.get("type") or "RunFailed",
                non_retryable=True,
            )
        summary = TaskRunSummary(
            run_id=request.run_id,
            status=finished.status,
            error_type=error.get("type"),
        )
        if versions.patched("result-has-output"):
            summary.task = run_label(request)
            summary.llm_usage = finished.llm_usage
            if finished.has_output:
                self._attach_output(summary, finished.output)
        return summary

    async def _alert_pending(self, request: TaskRunRequest, alerts: list[str], seconds: float) -> None:
        """The run has waited ``seconds`` for a slot: tell the alerts watching that (once each)."""
        event = pending_event(
            run_id=request.run_id,
            occurred_at=workflow.now(),
            task_id=request.task_id,
            task_name=request.task_name,
            trigger=request.trigger,
            depth=request.event_depth,
            pending_seconds=seconds,
        )
        await deliver(event, [{"kind": "alert", "id": alert} for alert in alerts])

    async def _alert_question(self, request: TaskRunRequest, question: dict, alerts: list[str], seconds: float) -> None:
        """A question has waited ``seconds`` unanswered: tell the alerts watching that (once each)."""
        event = question_waiting_event(
            question=question, occurred_at=workflow.now(), trigger=request.trigger, depth=request.event_depth, waiting_seconds=seconds
        )
        await deliver(event, [{"kind": "alert", "id": alert} for alert in alerts])

    async def _deliver_event(self, recorded: RunRecorded | bool) -> None:
        """Hand the run's end event to the rules and alerts listening to it: a regular activity,
        retried by any worker, only when someone listens (other runs schedule nothing)."""
        if not isinstance(recorded, RunRecorded) or not recorded.subscribers or recorded.event is None:
            return
        if versions.patched("run-events"):
            await deliver(recorded.event, recorded.subscribers)

    async def _wait_for_slot(self, request: TaskRunRequest) -> None:
        """Stay ``pending`` until the task's semaphore grants a slot. A run cancelled while it
        waits leaves the queue (it holds nothing) and ends ``cancelled`` without starting."""
        workflow.set_current_details(
            f"**{run_label(request)}**: pending\n\nWaiting for a slot ({WAITING_FOR_SLOT}): "
            f"at most {request.max_concurrency} runs of this task execute at once"
        )
        try:
            await self._slot.acquire(request)
        except asyncio.CancelledError:
            await self._slot.release(request)
            now = workflow.now()
            finished = RunFinished(
                run_id=request.run_id,
                status="cancelled",
                started_at=now,
                completed_at=now,
                error=run_error("Cancelled", "The run was cancelled while it waited for a concurrency slot"),
            )
            await workflow.execute_local_activity_method(
                RunActivities.finish_run, finished, start_to_close_timeout=BOOKKEEPING_TIMEOUT
            )
            self._set_status("cancelled")
            self._details(request, "cancelled", finished.error)
            raise

    @staticmethod
    def _attach_output(summary: TaskRunSummary, output: Any) -> None:
        try:
            small = footprint(output, RESULT_OUTPUT_CHARS)[0] <= RESULT_OUTPUT_CHARS
        except TooBig:
            small = False
        if small:
            summary.output = output
        else:
            summary.output_omitted = (
                f"the output is larger than {RESULT_OUTPUT_CHARS:,} characters: "
                f"GET /v1/task-runs/{summary.run_id} has it"
            )

    def _details(self, request: TaskRunRequest, status: str, error: dict | None = None) -> None:
        """What the Temporal UI shows as the run's current details (no history event)."""
        lines = [f"**{run_label(request)}**: {status}"]
        question = self._human.pending()
        if status == "paused" and question is not None:
            who = ", ".join(question.get("assignees") or []) or "anyone with the approver role"
            lines.append(f"Waiting for a person: *{question.get('question')}*")
            if question.get("responses"):
                lines.append("Answers: " + ", ".join(str(r) for r in question["responses"]))
            lines.append(f"Who may answer: {who}")
            if question.get("timeout_at"):
                lines.append(f"Expires: {question['timeout_at']}")
            lines.append(
                f"Answer with `POST /v1/task-runs/{request.run_id}/respond`, `cytasks respond {request.run_id}`, "
                'or the `human_responded` signal `{"answer": ..., "answered_by": ...}`'
            )
        if error:
            lines.append(f"{error.get('type')}: {error.get('message')}{_where(error)}")
        workflow.set_current_details("\n\n".join(lines))
