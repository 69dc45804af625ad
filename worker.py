"""The worker process: hosts ``TaskRunWorkflow`` and every activity. Scale by running more.

Run it with ``cytasks worker`` or ``python worker.py``; it is configured by the
``CYTASKS_*`` environment variables (see ``settings.py``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.runs import RunActivities
from activities.tools import ToolActivities
from integrations.registry import get_registry
from settings import Settings, get_settings
from workflows.task_run import TaskRunWorkflow

log = logging.getLogger("cytasks.worker")

# Deterministic code the workflow uses; loaded once per process instead of once per run.
PASSTHROUGH_MODULES = ("cy", "integrations", "settings", "pydantic", "pydantic_settings")


async def connect(settings: Settings) -> Client:
    from storage.temporal import data_converter

    return await Client.connect(
        settings.TEMPORAL_ADDRESS,
        namespace=settings.TEMPORAL_NAMESPACE,
        data_converter=data_converter(settings),
    )


def activity_functions(settings: Settings, run_activities: RunActivities) -> list:
    """Every activity this worker hosts (the bookkeeping ones also serve as local activities)."""
    tools = ToolActivities(get_registry())
    return [
        tools.run_tool,
        run_activities.mark_run_running,
        run_activities.finish_run,
    ]


def build_worker(client: Client, settings: Settings, run_activities: RunActivities) -> Worker:
    return Worker(
        client,
        task_queue=settings.TASK_QUEUE,
        workflows=[TaskRunWorkflow],
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
        ),
        activities=activity_functions(settings, run_activities),
        activity_executor=ThreadPoolExecutor(max_workers=8),
    )


async def run_worker(settings: Settings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or get_settings()
    from devstack.temporal import ensure_search_attributes

    client = await connect(settings)
    try:
        await ensure_search_attributes(client, settings.TEMPORAL_NAMESPACE)
    except Exception as error:  # the server may forbid it; runs then skip the attributes
        log.warning("could not register search attributes: %s", error)
    run_activities = await RunActivities.create(settings)
    worker = build_worker(client, settings, run_activities)
    stop = stop or asyncio.Event()
    async with worker:
        log.info("worker polling task queue %s on %s", settings.TASK_QUEUE, settings.TEMPORAL_ADDRESS)
        await stop.wait()
    await run_activities.close()


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
