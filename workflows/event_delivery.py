"""Handing an event to the rules and alerts it matched, from inside a run's workflow.

The ``deliver_event`` activity (activities/events.py) does the work, retried by any worker. It
runs in an ``EventDelivery`` workflow of its own, started by the run's workflow and abandoned by
it, so that a slow or failing webhook never holds up the run (nor a long poll waiting for its end,
nor the workflow run a node run belongs to). Runs recorded before that ran the activity
themselves and waited for it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.events import EventActivities
    from workflows import versions
    from taskrun.contract import (
        EVENT_DELIVERY_ATTEMPTS,
        EVENT_DELIVERY_WORKFLOW,
        EventDeliveryRequest,
        event_delivery_workflow_id,
    )

DELIVERY_TIMEOUT = timedelta(seconds=60)
DELIVERY_RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=EVENT_DELIVERY_ATTEMPTS,
)


async def _deliver_here(request: EventDeliveryRequest) -> None:
    """Deliver and wait; a delivery that gives up is logged (its rows say why), never raised."""
    try:
        await workflow.execute_activity_method(
            EventActivities.deliver_event,
            request,
            start_to_close_timeout=DELIVERY_TIMEOUT,
            retry_policy=DELIVERY_RETRIES,
        )
    except ActivityError as error:
        workflow.logger.warning("event %s: delivery gave up: %s", request.event.get("id"), error.cause or error)


@workflow.defn(name=EVENT_DELIVERY_WORKFLOW)
class EventDeliveryWorkflow:
    @workflow.run
    async def run(self, request: EventDeliveryRequest) -> None:
        await _deliver_here(request)


async def deliver(event: dict[str, Any], subscribers: list[dict[str, Any]]) -> None:
    """Have the event delivered; returns once its delivery has started (or, in runs recorded
    before delivery moved apart, once it is done)."""
    request = EventDeliveryRequest(event, subscribers)
    if not versions.patched("events-delivered-apart"):
        await _deliver_here(request)
        return
    try:
        await workflow.start_child_workflow(
            EventDeliveryWorkflow.run,
            request,
            id=event_delivery_workflow_id(str(event.get("id"))),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"{event.get('type')} of run {event.get('run_id') or event.get('workflow_run_id')}",
        )
    except WorkflowAlreadyStartedError:
        pass  # the event's delivery already runs (or ran): it is delivered once
