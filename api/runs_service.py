"""The API's boundary with the run engine: the tool registry, compile checks and Temporal.

Everything the routes need from the Cy interpreter or from Temporal goes through this
module, so the rest of the API stays independent of how runs are executed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from cy import CyOptions
from cy import check_script as cy_check_script
from cy.tools import ToolRegistry

logger = logging.getLogger(__name__)

TEMPORAL_CONNECT_TIMEOUT = 10.0


def load_registry() -> ToolRegistry:
    """The registry scripts are compiled against: natives, built-in tools and plugins."""
    from integrations.registry import get_registry

    return get_registry()


def check_script(source: str, registry: ToolRegistry) -> list[dict[str, Any]]:
    """Compile ``source``; the Cy errors as ``{type, message, line, column}`` (empty when it compiles)."""
    options = CyOptions(undefined_variables="error")
    return [error.to_dict() for error in cy_check_script(source, registry, options)]


async def connect_temporal(settings: Any) -> Client:
    return await asyncio.wait_for(
        Client.connect(
            settings.TEMPORAL_ADDRESS,
            namespace=settings.TEMPORAL_NAMESPACE,
            data_converter=_data_converter(settings),
        ),
        timeout=TEMPORAL_CONNECT_TIMEOUT,
    )


def _data_converter(settings: Any) -> Any:
    """The workers' converter: payloads above the threshold go to the blob store, not history."""
    from storage import data_converter

    return data_converter(settings)


async def temporal_reachable(client: Client | None) -> bool:
    if client is None:
        return False
    try:
        await asyncio.wait_for(client.service_client.check_health(), timeout=3.0)
    except Exception:
        return False
    return True


async def start_run(client: Client, settings: Any, request: Any) -> str:
    """Start the run's workflow and return its id; an already started workflow counts as started."""
    from taskrun.client import start_task_run
    from taskrun.contract import workflow_id_for

    try:
        await start_task_run(
            client,
            request,
            task_queue=settings.TASK_QUEUE,
            namespace=settings.TEMPORAL_NAMESPACE,
        )
    except WorkflowAlreadyStartedError:
        pass
    return workflow_id_for(request.run_id)


async def ensure_started(client: Client, settings: Any, request: Any) -> str:
    """Start the run's workflow unless Temporal already has one (open or closed) for this run."""
    from taskrun.client import workflow_exists
    from taskrun.contract import workflow_id_for

    if await workflow_exists(client, request.run_id):
        return workflow_id_for(request.run_id)
    return await start_run(client, settings, request)


async def started_despite_error(client: Client | None, run_id: str) -> bool:
    """After a failed start call: whether the workflow was created anyway (e.g. a lost reply)."""
    if client is None:
        return False
    try:
        from taskrun.client import workflow_exists

        return await asyncio.wait_for(workflow_exists(client, run_id), timeout=5.0)
    except Exception:
        return False


async def cancel_run(client: Client, run_id: str, workflow_id: str | None = None) -> bool:
    """Ask the run's workflow to cancel; False when Temporal has no such (open) workflow."""
    from taskrun.client import cancel_task_run

    try:
        await cancel_task_run(client, run_id, workflow_id=workflow_id)
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            return False
        raise
    return True
