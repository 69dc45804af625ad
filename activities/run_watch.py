"""The run watcher: rows whose workflow closed without recording the run's end, and cancels
the workflow does not act on. Every pass does bounded work and changes only non-terminal rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import Client

from persistence.db import get_sessionmaker
from persistence.repository.runs import (
    ActiveRun,
    finish_run,
    list_active_runs_of_workflows,
    list_overdue_cancels,
    sample_active_runs,
)
from settings import Settings
from taskrun.client import closed_while_active, terminate_task_run, workflow_outcome
from taskrun.outcome import FORCED_CANCEL_REASON, run_error


@dataclass
class RunWatchOptions:
    cancel_grace_seconds: float = 30
    """How long a cancelled run's workflow has to close before it is terminated."""
    lookback_seconds: float = 600
    """How far back Temporal visibility is searched for workflows closed while their run was not."""
    sweep_older_than_seconds: float = 60
    """Runs this old are also checked one by one (for servers without the search attributes)."""
    batch: int = 200
    sweep_batch: int = 50
    stuck_attempts: int = 10
    """A run whose workflow task failed this many times in a row (a bug or a deploy that cannot
    run it) is terminated and recorded failed with the last failure."""


@dataclass
class RunWatchReport:
    reconciled: list[str] = field(default_factory=list)
    forced_cancels: list[str] = field(default_factory=list)
    errors: int = 0


def forced_cancel_error(grace_seconds: float) -> dict:
    return run_error(
        "CancelForced",
        f"The run was cancelled by force: its workflow did not stop within {grace_seconds:g} s of "
        "the cancel request, so it was terminated",
    )


class RunWatchActivities:
    def __init__(self, settings: Settings) -> None:
        self.sessions = get_sessionmaker(settings.DATABASE_URL)
        self.stuck_attempts = RunWatchOptions.stuck_attempts

    @activity.defn(name="reconcile_runs")
    async def reconcile_runs(self, options: RunWatchOptions) -> RunWatchReport:
        client = activity.client()
        report = RunWatchReport()
        self.stuck_attempts = options.stuck_attempts
        async with self.sessions() as session:
            overdue = await list_overdue_cancels(
                session, timedelta(seconds=options.cancel_grace_seconds), limit=options.batch
            )
        for run in overdue:
            await self._guarded(report, run, self._force_cancel(client, run, options, report))

        closed_after = datetime.now(UTC) - timedelta(seconds=options.lookback_seconds)
        workflow_ids = await closed_while_active(client, closed_after, limit=options.batch)
        async with self.sessions() as session:
            closed = await list_active_runs_of_workflows(session, workflow_ids)
            swept = await sample_active_runs(
                session, timedelta(seconds=options.sweep_older_than_seconds), limit=options.sweep_batch
            )
        seen = {run.id for run in overdue}
        for run in [*closed, *swept]:
            if run.id not in seen:
                seen.add(run.id)
                await self._guarded(report, run, self._reconcile(client, run, report))
        if report.reconciled or report.forced_cancels:
            activity.logger.warning(
                "reconciled %d runs with their closed workflows, forced %d cancels",
                len(report.reconciled),
                len(report.forced_cancels),
            )
        return report

    async def _guarded(self, report: RunWatchReport, run: ActiveRun, step) -> None:
        activity.heartbeat()
        try:
            await step
        except Exception as error:  # one run's trouble must not stop the pass; the next one retries
            report.errors += 1
            activity.logger.warning("could not reconcile run %s: %s", run.id, error)

    async def _reconcile(self, client: Client, run: ActiveRun, report: RunWatchReport) -> None:
        outcome = await workflow_outcome(
            client, run.workflow_id, cancel_requested=run.cancel_requested, stuck_attempts=self.stuck_attempts
        )
        if outcome.state == "stuck":
            if not await terminate_task_run(client, run.workflow_id, "cytasks: workflow task failing repeatedly"):
                return
            async with self.sessions() as session, session.begin():
                if await finish_run(session, run.id, status="failed", error=outcome.error):
                    report.reconciled.append(run.id)
            return
        if outcome.closed:
            status, error, closed_at = outcome.status, outcome.error, outcome.closed_at
        elif outcome.state == "missing" and run.status != "pending":
            # A pending run's missing workflow is the never-started case, which maintenance handles.
            status, error, closed_at = "failed", run_error(
                "WorkflowNotFound", "Temporal no longer knows the run's workflow; how it ended is unknown"
            ), None
        else:
            return
        async with self.sessions() as session, session.begin():
            if await finish_run(session, run.id, status=status, error=error, completed_at=closed_at):
                report.reconciled.append(run.id)

    async def _force_cancel(
        self, client: Client, run: ActiveRun, options: RunWatchOptions, report: RunWatchReport
    ) -> None:
        outcome = await workflow_outcome(client, run.workflow_id, cancel_requested=True)
        if outcome.state not in ("open", "stuck"):
            if outcome.state == "missing":
                outcome_error = run_error("Cancelled", "The run was cancelled; it has no workflow")
                async with self.sessions() as session, session.begin():
                    if await finish_run(session, run.id, status="cancelled", error=outcome_error):
                        report.reconciled.append(run.id)
                return
            await self._reconcile(client, run, report)
            return
        grace = options.cancel_grace_seconds
        reason = f"{FORCED_CANCEL_REASON}: not stopped {grace:g} s after the cancel request"
        if not await terminate_task_run(client, run.workflow_id, reason):
            await self._reconcile(client, run, report)
            return
        async with self.sessions() as session, session.begin():
            if await finish_run(session, run.id, status="cancelled", error=forced_cancel_error(grace)):
                report.forced_cancels.append(run.id)
