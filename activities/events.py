"""Delivering a run's end event to the rules and alerts it matched (a regular activity, retried).

Each (subscriber, event) pair has one delivery row, so a retry, or a second worker after a
restart, never repeats what was done: a rule's run has an id derived from the rule and the
event (its row is inserted once, its workflow started once), an alert's notice is posted until
it is delivered once. A rule beyond the depth bound, or whose target can no longer run, is
``refused`` with the reason; anything that may pass on a retry is ``failed`` and raised.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import WorkflowAlreadyStartedError

from graphs.definition import parse_graph
from hitl.notifiers import NotificationError, WebhookNotifier
from persistence.db import get_sessionmaker
from persistence.repository.events import Subscriber, claim_delivery, get_alert, get_rule, settle_delivery
from persistence.repository.runs import create_run, get_run
from persistence.repository.tasks import get_task
from persistence.repository.workflows import (
    create_workflow_run,
    finish_workflow_run,
    get_workflow,
    get_workflow_run,
    pinned_graph,
    resolve_node_tasks,
    workflow_run_request,
)
from settings import Settings
from storage.blobs import BlobStore
from storage.values import run_value_key, store_value
from taskrun.alerts import alert_body, shown_url
from taskrun.client import start_task_run, start_workflow_run
from taskrun.contract import EVENT_DELIVERY_ATTEMPTS, EventDeliveryRequest, TaskRunRequest, WorkflowRunRequest, run_error
from taskrun.search_attributes import search_attributes_registered
from taskrun.events import target_run_id
from validation import SchemaFault, failures_of

logger = logging.getLogger(__name__)


class Refused(Exception):
    """The subscriber will never take this event (recorded ``refused``, not retried)."""


class DeliveryFailed(RuntimeError):
    pass


def _input_refusal(schema: dict, value: Any) -> str | None:
    try:
        failures = failures_of(schema, value)
    except SchemaFault as fault:
        return f"its input_schema cannot be evaluated at {fault.schema_path}: {fault.message}"
    return f"the event does not match its input_schema: at {failures[0].path}: {failures[0].message}" if failures else None


class EventActivities:
    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @activity.defn(name="deliver_event")
    async def deliver_event(self, request: EventDeliveryRequest) -> dict[str, str]:
        """Deliver the event to each subscriber not yet served; answers each one's status."""
        outcomes: dict[str, str] = {}
        failures: list[str] = []
        subscribers = [Subscriber(kind=entry["kind"], id=entry["id"], match=[]) for entry in request.subscribers]
        # Side by side, each within its own deadline: a slow webhook delays no other subscriber.
        results = await asyncio.gather(
            *(self._deliver(request.event, subscriber) for subscriber in subscribers), return_exceptions=True
        )
        for subscriber, result in zip(subscribers, results):
            if isinstance(result, BaseException):
                outcomes[subscriber.id] = "failed"
                failures.append(f"{subscriber.kind} {subscriber.id}: {type(result).__name__}: {result}")
            else:
                outcomes[subscriber.id] = result
        if failures:
            raise DeliveryFailed("; ".join(failures))
        return outcomes

    async def _deliver(self, event: dict[str, Any], subscriber: Subscriber) -> str:
        async with self.sessions() as session, session.begin():
            delivery = await claim_delivery(session, event=event, subscriber=subscriber)
            if delivery.status in ("delivered", "refused"):
                return delivery.status
            delivery_id = delivery.id
        try:
            if subscriber.kind == "rule":
                target = await self._start_rule_target(event, subscriber.id)
                outcome = {"status": "delivered", "target_run_id": target}
            else:
                await self._notify(event, subscriber.id)
                outcome = {"status": "delivered"}
            outcome["delivered_at"] = datetime.now(UTC)
        except Refused as refusal:
            outcome = {"status": "refused", "error": str(refusal)}
        except Exception as error:
            async with self.sessions() as session, session.begin():
                await settle_delivery(session, delivery_id, status="failed", error=f"{type(error).__name__}: {error}"[:2000])
            raise
        async with self.sessions() as session, session.begin():
            await settle_delivery(session, delivery_id, **outcome)
        return outcome["status"]

    async def _start_rule_target(self, event: dict[str, Any], rule_id: str) -> uuid.UUID:
        """Record the rule's run (once) and start its workflow (once); answers its id."""
        depth = int(event.get("depth") or 0) + 1
        run_id = target_run_id(rule_id, event)
        async with self.sessions() as session, session.begin():
            rule = await get_rule(session, rule_id)
            if rule is None:
                raise Refused("the rule no longer exists")
            if not rule.enabled:
                raise Refused("the rule was disabled before the event was delivered")
            if depth > self.settings.EVENT_MAX_DEPTH:
                raise Refused(
                    f"the event is {depth - 1} rule runs deep: a rule's run may be at most "
                    f"{self.settings.EVENT_MAX_DEPTH} deep (CYTASKS_EVENT_MAX_DEPTH)"
                )
            workflow_target = None
            if rule.target_workflow_id is not None:
                workflow_target = await self._record_workflow_target(session, rule, event, run_id, depth)
            else:
                task_request = await self._record_task_target(session, rule, event, run_id, depth)
        if workflow_target is not None:
            await self._start_workflow_target(*workflow_target)
            return run_id
        try:
            await start_task_run(
                activity.client(),
                task_request,
                task_queue=self.settings.TASK_QUEUE,
                namespace=self.settings.TEMPORAL_NAMESPACE,
                eager=False,
            )
        except WorkflowAlreadyStartedError:
            pass
        return run_id

    async def _record_task_target(
        self, session: Any, rule: Any, event: dict[str, Any], run_id: uuid.UUID, depth: int
    ) -> TaskRunRequest:
        """Record the rule's task run (once), at the task's current version; answers its request."""
        task = await get_task(session, rule.target_task_id)
        if task is None or task.status != "enabled":
            raise Refused(f"the target task is {task.status if task else 'gone'} and cannot be run")
        if task.input_schema is not None:
            refusal = await asyncio.to_thread(_input_refusal, task.input_schema, event)
            if refusal:
                raise Refused(f"task '{task.cy_name}': {refusal}")
        if await get_run(session, run_id) is None:
            stored = await store_value(event, self.settings.INLINE_THRESHOLD_BYTES, self.blobs, run_value_key(run_id, "input"))
            await create_run(
                session,
                run_id=run_id,
                trigger="event",
                task_id=task.id,
                task_version=task.version,
                input_storage=stored.storage,
                input_inline=stored.inline,
                input_ref=stored.ref,
                created_by=f"rule:{rule.name}",
            )
        request = TaskRunRequest.for_task(run_id=str(run_id), task=task, pinned=task, input=event, trigger="event")
        request.event_depth = depth
        return request

    async def _record_workflow_target(
        self, session: Any, rule: Any, event: dict[str, Any], run_id: uuid.UUID, depth: int
    ) -> tuple[WorkflowRunRequest, str]:
        """Record the rule's workflow run (once), its current version and each node's task
        pinned; answers the run's request and Temporal workflow id."""
        workflow = await get_workflow(session, rule.target_workflow_id)
        if workflow is None or workflow.status != "enabled":
            raise Refused(f"the target workflow is {workflow.status if workflow else 'gone'} and cannot be run")
        graph = parse_graph(workflow.nodes, workflow.edges)
        tasks, problems = await resolve_node_tasks(session, graph)
        if problems:
            raise Refused(f"workflow '{workflow.name}': {problems[0].field}: {problems[0].message}")
        for node_id, (task, _pinned) in tasks.items():
            if task.status != "enabled":
                raise Refused(f"workflow '{workflow.name}': node {node_id!r}: task {task.cy_name!r} is {task.status}")
        if workflow.input_schema is not None:
            refusal = await asyncio.to_thread(_input_refusal, workflow.input_schema, event)
            if refusal:
                raise Refused(f"workflow '{workflow.name}': {refusal}")
        request = workflow_run_request(run_id, workflow, graph, tasks, event, "event")
        request.workflow_id = str(workflow.id)
        request.event_depth = depth
        for template in request.tasks.values():
            template.event_depth = depth
        run = await get_workflow_run(session, run_id)
        if run is None:
            stored = await store_value(event, self.settings.INLINE_THRESHOLD_BYTES, self.blobs, run_value_key(run_id, "input"))
            run = await create_workflow_run(
                session,
                run_id=run_id,
                workflow=workflow,
                workflow_id=workflow.id,
                trigger="event",
                graph=pinned_graph(request),
                input_storage=stored.storage,
                input_inline=stored.inline,
                input_ref=stored.ref,
                created_by=f"rule:{rule.name}",
            )
        return request, run.temporal_workflow_id

    async def _start_workflow_target(self, request: WorkflowRunRequest, temporal_id: str) -> None:
        """Start the recorded workflow run (an "already started" answer is success); when the
        last attempt cannot start it, the run is failed with the reason, never left pending."""
        client = activity.client()
        try:
            request.track_status = await search_attributes_registered(client, self.settings.TEMPORAL_NAMESPACE)
            await start_workflow_run(client, request, workflow_id=temporal_id, task_queue=self.settings.TASK_QUEUE)
        except WorkflowAlreadyStartedError:
            pass
        except Exception as error:
            if activity.info().attempt >= EVENT_DELIVERY_ATTEMPTS:
                reason = f"The rule's workflow run could not be started: {type(error).__name__}: {error}"
                async with self.sessions() as session, session.begin():
                    await finish_workflow_run(
                        session, request.workflow_run_id, status="failed", error=run_error("WorkflowStartFailed", reason)
                    )
            raise

    async def _notify(self, event: dict[str, Any], alert_id: str) -> None:
        async with self.sessions() as session:
            alert = await get_alert(session, alert_id)
            if alert is None:
                raise Refused("the alert no longer exists")
            if not alert.enabled:
                raise Refused("the alert was disabled before the event was delivered")
            url, secret, format, name = alert.url, alert.secret, alert.format, alert.name
        body = alert_body({"id": alert_id, "name": name}, event, format)
        seconds = self.settings.EVENT_WEBHOOK_TIMEOUT_SECONDS
        try:
            async with asyncio.timeout(seconds):  # the whole exchange, not each read
                await WebhookNotifier(url, secret, timeout=seconds)(body)
        except TimeoutError:
            raise NotificationError(f"the alert's webhook did not answer within {seconds:g} s") from None
        except NotificationError as error:
            # Delivery rows are read by every reading role: keep the URL (a credential) out.
            raise NotificationError(str(error).replace(url, shown_url(url))) from None
