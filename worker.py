"""The worker process: hosts ``TaskRunWorkflow`` and every activity. Scale by running more.

Run it with ``cytasks worker`` or ``python worker.py``; it is configured by the
``CYTASKS_*`` environment variables (see ``settings.py``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import metrics
from activities.concurrency import ConcurrencyActivities
from activities.events import EventActivities
from activities.maintenance import MaintenanceActivities
from activities.questions import QuestionActivities
from activities.run_watch import RunWatchActivities, RunWatchOptions
from activities.runs import RunActivities
from activities.schedules import ScheduleActivities
from activities.tools import ToolActivities
from activities.workflow_runs import WorkflowRunActivities
from taskrun.search_attributes import ensure_search_attributes
from integrations.registry import get_registry
from schedules.service import reconcile_at_start
from settings import Settings, get_settings
from storage.temporal import data_converter
from workflows.concurrency import TaskConcurrencyWorkflow
from workflows.event_delivery import EventDeliveryWorkflow
from workflows.maintenance import MaintenanceWorkflow, RunWatchWorkflow
from workflows.maintenance_schedules import ensure_maintenance_schedule, ensure_run_watch_schedule
from workflows.task_run import TaskRunWorkflow
from workflows.workflow_run import WorkflowRunWorkflow

logger = logging.getLogger(__name__)

# Deterministic code the workflow uses; loaded once per process instead of once per run.
PASSTHROUGH_MODULES = ("cy", "hitl", "integrations", "taskrun", "validation", "graphs", "settings", "pydantic", "pydantic_settings")


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    options = {"runtime": runtime} if runtime is not None else {}
    return await Client.connect(
        settings.TEMPORAL_ADDRESS,
        namespace=settings.TEMPORAL_NAMESPACE,
        data_converter=data_converter(settings),
        **options,
    )


def temporal_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving the SDK's own Prometheus metrics on
    CYTASKS_WORKER_TEMPORAL_METRICS_PORT; None (the default runtime) when that is 0."""
    if not settings.WORKER_TEMPORAL_METRICS_PORT:
        return None
    address = f"{settings.WORKER_METRICS_HOST}:{settings.WORKER_TEMPORAL_METRICS_PORT}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


def serve_metrics(settings: Settings) -> object | None:
    """Serve this process's Prometheus metrics (activities/metrics.py) on
    CYTASKS_WORKER_METRICS_PORT, in a thread; None when that is 0. Answers the HTTP server."""
    metrics.install()
    if not settings.WORKER_METRICS_PORT:
        return None
    server, _thread = start_http_server(settings.WORKER_METRICS_PORT, addr=settings.WORKER_METRICS_HOST)
    logger.info("worker metrics on http://%s:%s/metrics", settings.WORKER_METRICS_HOST, settings.WORKER_METRICS_PORT)
    return server


def activity_functions(settings: Settings, run_activities: RunActivities) -> list:
    """Every activity this worker hosts (the bookkeeping ones also serve as local activities)."""
    tools = ToolActivities(get_registry(), record_start=run_activities.record_start_beside_tool)
    questions = QuestionActivities(settings)
    schedules = ScheduleActivities(settings, run_activities.blobs)
    maintenance = MaintenanceActivities(settings, run_activities.blobs)
    run_watch = RunWatchActivities(settings)
    concurrency = ConcurrencyActivities(settings)
    workflow_runs = WorkflowRunActivities(settings, run_activities.blobs)
    events = EventActivities(settings, run_activities.blobs)
    return [
        tools.run_tool,
        run_activities.mark_run_running,
        run_activities.finish_run,
        run_activities.append_run_logs,
        run_activities.checkpoint,
        run_activities.prepare_child_task,
        run_activities.run_output,
        questions.open_question,
        questions.record_answer,
        questions.expire_question,
        questions.notify_question,
        schedules.prepare_scheduled_run,
        maintenance.fail_runs_never_started,
        maintenance.reconcile_schedules,
        maintenance.maintain_partitions_and_retention,
        run_watch.reconcile_runs,
        concurrency.request_slot,
        concurrency.release_slot,
        concurrency.closed_holders,
        workflow_runs.prepare_scheduled_workflow_run,
        workflow_runs.mark_workflow_run_running,
        workflow_runs.create_node_run,
        workflow_runs.node_run_output,
        workflow_runs.finish_workflow_run,
        events.deliver_event,
    ]


def workflow_runner(sandboxed: bool) -> WorkflowRunner:
    if sandboxed:
        return SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
        )
    return UnsandboxedWorkflowRunner()


def build_worker(client: Client, settings: Settings, run_activities: RunActivities) -> Worker:
    return Worker(
        client,
        task_queue=settings.TASK_QUEUE,
        workflows=[
            TaskRunWorkflow,
            WorkflowRunWorkflow,
            TaskConcurrencyWorkflow,
            MaintenanceWorkflow,
            RunWatchWorkflow,
            EventDeliveryWorkflow,
        ],
        workflow_runner=workflow_runner(settings.WORKFLOW_SANDBOX),
        activities=activity_functions(settings, run_activities),
        activity_executor=ThreadPoolExecutor(max_workers=8),
        # Paused runs sit in the sticky cache too (about 150 KB each); an evicted one is
        # replayed from its history when its answer arrives (see bench/hitl.py).
        max_cached_workflows=settings.MAX_CACHED_WORKFLOWS,
        max_concurrent_workflow_task_polls=settings.WORKFLOW_TASK_POLLERS,
    )


async def run_worker(settings: Settings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or get_settings()
    metrics_server = serve_metrics(settings)
    client = await connect(settings, temporal_runtime(settings))
    try:
        await ensure_search_attributes(client, settings.TEMPORAL_NAMESPACE)
    except Exception as error:  # the server may forbid it; runs then skip the attributes
        logger.warning("could not register search attributes: %s", error)
    run_activities = await RunActivities.create(settings)
    worker = build_worker(client, settings, run_activities)
    stop = stop or asyncio.Event()
    async with worker:
        logger.info("worker polling task queue %s on %s", settings.TASK_QUEUE, settings.TEMPORAL_ADDRESS)
        duties = await start_duties(client, settings)
        await stop.wait()
        duties.cancel()
    await run_activities.close()
    if metrics_server is not None:
        metrics_server.shutdown()


async def start_duties(client: Client, settings: Settings) -> asyncio.Task:
    """What a starting worker does once: the maintenance and run watch schedules, and schedule
    reconciliation (in the background, retrying while the database is not reachable yet)."""
    watch = RunWatchOptions(
        cancel_grace_seconds=settings.CANCEL_GRACE_SECONDS,
        stuck_attempts=settings.STUCK_WORKFLOW_TASK_ATTEMPTS,
    )
    schedules = (
        ("maintenance", ensure_maintenance_schedule(client, settings.TASK_QUEUE)),
        (
            "run watch",
            ensure_run_watch_schedule(
                client,
                settings.TASK_QUEUE,
                every=timedelta(seconds=settings.RUN_WATCH_INTERVAL_SECONDS),
                options=watch,
            ),
        ),
    )
    for name, ensure in schedules:
        try:
            await ensure
        except Exception as error:
            logger.warning("could not create the %s schedule: %s", name, error)
    return asyncio.create_task(reconcile_at_start(client, settings))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(stop=stop)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
