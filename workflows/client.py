"""Starting, cancelling and inspecting TaskRun workflows from the API and the CLI."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from .task_run import SEARCH_ATTRIBUTE_NAMES, STATUS, TASK_ID, TASK_NAME, TRIGGER, TaskRunWorkflow
from .types import TaskRunRequest, workflow_id_for

_registered_attributes: dict[int, bool] = {}


async def search_attributes_registered(client: Client, namespace: str) -> bool:
    """Whether the server knows our custom search attributes (asked once per client)."""
    key = id(client)
    if key not in _registered_attributes:
        from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

        try:
            response = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=namespace)
            )
            names = set(response.custom_attributes)
            _registered_attributes[key] = all(name in names for name in SEARCH_ATTRIBUTE_NAMES)
        except RPCError:
            _registered_attributes[key] = False
    return _registered_attributes[key]


def run_summary(request: TaskRunRequest) -> str:
    if request.task_name:
        return f"{request.task_name} v{request.task_version}"
    return "ad-hoc script"


async def start_task_run(
    client: Client,
    request: TaskRunRequest,
    *,
    task_queue: str,
    namespace: str = "default",
    eager: bool = True,
) -> WorkflowHandle:
    """Start the run's workflow; its id is derived from the run id, so a retry cannot fork it."""
    search_attributes = None
    if await search_attributes_registered(client, namespace):
        search_attributes = TypedSearchAttributes(
            [
                SearchAttributePair(TASK_NAME, request.task_name or "ad-hoc"),
                SearchAttributePair(TASK_ID, request.task_id or ""),
                SearchAttributePair(TRIGGER, request.trigger),
                SearchAttributePair(STATUS, "pending"),
            ]
        )
    return await client.start_workflow(
        TaskRunWorkflow.run,
        request,
        id=workflow_id_for(request.run_id),
        task_queue=task_queue,
        search_attributes=search_attributes,
        static_summary=run_summary(request),
        request_eager_start=eager,
    )


async def cancel_task_run(client: Client, run_id: str, *, workflow_id: str | None = None) -> None:
    """Cancel the run's workflow (``workflow_id`` for runs a schedule started)."""
    await client.get_workflow_handle(workflow_id or workflow_id_for(run_id)).cancel()


async def workflow_exists(client: Client, run_id: str, *, workflow_id: str | None = None) -> bool:
    try:
        await client.get_workflow_handle(workflow_id or workflow_id_for(run_id)).describe()
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            return False
        raise
    return True


async def ensure_maintenance_schedule(client: Client, task_queue: str) -> bool:
    """Create the housekeeping schedule once; True when this call created it."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )

    from .maintenance import INTERVAL, SCHEDULE_ID, MaintenanceWorkflow

    try:
        await client.create_schedule(
            SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    MaintenanceWorkflow.run, id="cytasks-maintenance-run", task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=INTERVAL)]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True
