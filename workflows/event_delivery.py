"""Handing an event to the rules and alerts it matched, from inside a run's workflow: the
``deliver_event`` activity, retried by any worker (see activities/events.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.events import EventActivities
    from taskrun.contract import EVENT_DELIVERY_ATTEMPTS, EventDeliveryRequest

DELIVERY_TIMEOUT = timedelta(seconds=60)
DELIVERY_RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=EVENT_DELIVERY_ATTEMPTS,
)


async def deliver(event: dict[str, Any], subscribers: list[dict[str, Any]]) -> None:
    """Deliver and wait; a delivery that gives up is logged (its rows say why), never raised."""
    try:
        await workflow.execute_activity_method(
            EventActivities.deliver_event,
            EventDeliveryRequest(event, subscribers),
            start_to_close_timeout=DELIVERY_TIMEOUT,
            retry_policy=DELIVERY_RETRIES,
        )
    except ActivityError as error:
        workflow.logger.warning("event %s: delivery gave up: %s", event.get("id"), error.cause or error)
