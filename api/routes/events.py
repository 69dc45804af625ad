"""Event rules (on an event, start a task with the event as input) and alerts (on a failed or
timed-out run, post a signed webhook), and the deliveries recorded for each."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from taskrun.events import ALERT_KINDS, EMITTED_EVENT_TYPES, InvalidPointer, check_pointer

from ..deps import PrincipalDep, SessionDep
from ..presenters import alert_resource, page, rule_resource
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import Page
from ..services import events as event_service

router = APIRouter(tags=["events"], route_class=CytasksRoute)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:@-]{0,127}$"
MAX_CONDITIONS = 20
MAX_PENDING_SECONDS = 7 * 24 * 3600
NOTHING_TO_ALERT_ON = (
    "name what to alert on: `on` (failed, timed_out), `pending_over_seconds`, `question_waiting_over_seconds` "
    "or `schedule_late_over_seconds`"
)


def _event_types(value: str | list[str]) -> list[str]:
    types = [value] if isinstance(value, str) else list(value)
    if not types:
        raise ValueError("name at least one event type")
    for name in types:
        if name not in EMITTED_EVENT_TYPES:
            raise ValueError(f"unknown event type {name!r}; the types are {', '.join(EMITTED_EVENT_TYPES)}")
    return sorted(set(types), key=EMITTED_EVENT_TYPES.index)


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pointer: str = Field(max_length=500, description="RFC 6901 JSON pointer into the event, e.g. `/error/type`")
    equals: Any = Field(description="The value found there must equal this (JSON equality)")

    @field_validator("pointer")
    @classmethod
    def valid_pointer(cls, pointer: str) -> str:
        try:
            check_pointer(pointer)
        except InvalidPointer as error:
            raise ValueError(f"not a JSON pointer (RFC 6901): {error}") from None
        return pointer

    @model_validator(mode="before")
    @classmethod
    def equals_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pointer" in data and "equals" not in data:
            raise ValueError("each condition needs `equals`")
        return data


class RuleTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str | None = Field(default=None, min_length=1, max_length=200, description="The task to start (id or cy_name)")
    workflow_id: str | None = Field(default=None, min_length=1, max_length=200, description="The workflow to start (id or name)")

    @model_validator(mode="after")
    def one_target(self) -> "RuleTarget":
        if self.task_id is None and self.workflow_id is None:
            raise ValueError("name what to start: target.task_id or target.workflow_id")
        if self.task_id is not None and self.workflow_id is not None:
            raise ValueError("name one target: target.task_id or target.workflow_id, not both")
        return self


class RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="Unique")
    event: str | list[str] = Field(description=f"One event type or a list: {', '.join(EMITTED_EVENT_TYPES)}")
    task_id: str | None = Field(default=None, max_length=200, description="Only events of this task's runs (id or cy_name); null: any run")
    match: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS, description="Every condition must hold")
    target: RuleTarget
    enabled: bool = True

    @field_validator("event")
    @classmethod
    def known_events(cls, value: str | list[str]) -> list[str]:
        return _event_types(value)


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    event: str | list[str] | None = None
    task_id: str | None = Field(default=None, max_length=200)
    match: list[Condition] | None = Field(default=None, max_length=MAX_CONDITIONS)
    target: RuleTarget | None = None
    enabled: bool | None = None

    @field_validator("event")
    @classmethod
    def known_events(cls, value: str | list[str] | None) -> list[str] | None:
        return None if value is None else _event_types(value)

    @model_validator(mode="after")
    def no_nulls(self) -> "RulePatch":
        for field in ("name", "event", "target", "enabled"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class RuleRead(BaseModel):
    id: uuid.UUID
    name: str
    event: list[str]
    task_id: uuid.UUID | None = None
    match: list[dict[str, Any]]
    target: dict[str, Any]
    enabled: bool
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class AlertFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="Unique")
    task_id: str | None = Field(
        default=None, max_length=200, description="The task (id or cy_name); null: the global default, for tasks without an alert of their own"
    )
    on: list[Literal["failed", "timed_out"]] = Field(default_factory=list, description="The run ends to alert on")
    url: AnyHttpUrl = Field(description="The webhook the alert is POSTed to")
    secret: str | None = Field(default=None, min_length=1, max_length=500, description="Signs each body: `X-Cytasks-Signature: sha256=<HMAC-SHA256 hex of the body>`")
    format: Literal["json", "slack"] = Field(default="json", description="`slack`: a Slack-compatible `{text, blocks}` message")
    enabled: bool = True
    pending_over_seconds: float | None = Field(
        default=None, gt=0, le=MAX_PENDING_SECONDS, description="Alert once when a run has waited this long for a concurrency slot of its task (`max_concurrency`)"
    )
    question_waiting_over_seconds: float | None = Field(
        default=None, gt=0, le=MAX_PENDING_SECONDS, description="Alert once per question left unanswered this long"
    )
    schedule_late_over_seconds: float | None = Field(
        default=None, gt=0, le=MAX_PENDING_SECONDS, description="Alert when a schedule's fire starts its run this much later than its fire time"
    )

    @field_validator("on")
    @classmethod
    def distinct(cls, kinds: list[str]) -> list[str]:
        return sorted(set(kinds), key=list(ALERT_KINDS).index)

    @model_validator(mode="after")
    def something_to_alert_on(self) -> "AlertFields":
        thresholds = (self.pending_over_seconds, self.question_waiting_over_seconds, self.schedule_late_over_seconds)
        if not self.on and all(value is None for value in thresholds):
            raise ValueError(NOTHING_TO_ALERT_ON)
        return self


class AlertPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    task_id: str | None = Field(default=None, max_length=200)
    on: list[Literal["failed", "timed_out"]] | None = None
    url: AnyHttpUrl | None = None
    secret: str | None = Field(default=None, min_length=1, max_length=500, description="null removes it")
    format: Literal["json", "slack"] | None = None
    enabled: bool | None = None
    pending_over_seconds: float | None = Field(default=None, gt=0, le=MAX_PENDING_SECONDS, description="null removes it")
    question_waiting_over_seconds: float | None = Field(default=None, gt=0, le=MAX_PENDING_SECONDS, description="null removes it")
    schedule_late_over_seconds: float | None = Field(default=None, gt=0, le=MAX_PENDING_SECONDS, description="null removes it")

    @field_validator("on")
    @classmethod
    def distinct(cls, kinds: list[str] | None) -> list[str] | None:
        return None if kinds is None else sorted(set(kinds), key=list(ALERT_KINDS).index)

    @model_validator(mode="after")
    def no_nulls(self) -> "AlertPatch":
        for field in ("name", "on", "url", "format", "enabled"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class AlertRead(BaseModel):
    id: uuid.UUID
    name: str
    task_id: uuid.UUID | None = None
    on: list[str]
    pending_over_seconds: float | None = None
    question_waiting_over_seconds: float | None = None
    schedule_late_over_seconds: float | None = None
    url: str
    has_secret: bool
    format: str
    enabled: bool
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    source_run_id: uuid.UUID
    subscriber_kind: str
    subscriber_id: uuid.UUID
    target_run_id: uuid.UUID | None = None
    status: str = Field(description="`delivered`, `failed` (retried while the run's workflow tries), `refused` (with why), `pending`")
    attempts: int
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None


RuleId = Annotated[uuid.UUID, Path()]
AlertId = Annotated[uuid.UUID, Path()]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=200)]
TaskFilter = Annotated[str | None, Query(max_length=200, description="Only those of this task (id or cy_name)")]


def _set_fields(body: BaseModel) -> dict[str, Any]:
    return {field: value for field, value in body.model_dump(mode="json").items() if field in body.model_fields_set}


# -- rules ----------------------------------------------------------------------------------


@router.post("/event-rules", status_code=201, response_model=RuleRead, summary="Create an event rule", responses=problem_responses(403, 409, 422))
async def create_rule(body: RuleFields, response: Response, session: SessionDep, principal: PrincipalDep) -> Any:
    rule = await event_service.create_rule(session, principal, body.model_dump(mode="json"))
    response.headers["Location"] = f"/v1/event-rules/{rule.id}"
    return rule_resource(rule)


@router.get("/event-rules", response_model=Page[RuleRead], summary="List event rules, newest first", responses=problem_responses(400, 403, 422))
async def list_rules(session: SessionDep, task_id: TaskFilter = None, cursor: Cursor = None, limit: Limit = 50) -> Any:
    found = await event_service.list_rules(session, limit=limit, cursor=cursor, task_id=task_id)
    return page([rule_resource(rule) for rule in found.items], found.next_cursor)


@router.get("/event-rules/{rule_id}", response_model=RuleRead, summary="One event rule", responses=problem_responses(403, 404, 422))
async def get_rule(rule_id: RuleId, session: SessionDep) -> Any:
    return rule_resource(await event_service.load_rule(session, rule_id))


@router.patch("/event-rules/{rule_id}", response_model=RuleRead, summary="Change an event rule", responses=problem_responses(403, 404, 409, 422))
async def update_rule(rule_id: RuleId, body: RulePatch, session: SessionDep) -> Any:
    return rule_resource(await event_service.update_rule(session, rule_id, _set_fields(body)))


@router.delete("/event-rules/{rule_id}", status_code=204, summary="Delete an event rule (and its deliveries)", responses=problem_responses(403, 404, 422))
async def delete_rule(rule_id: RuleId, session: SessionDep) -> Response:
    await event_service.delete_rule(session, rule_id)
    return Response(status_code=204)


@router.get(
    "/event-rules/{rule_id}/deliveries",
    response_model=Page[DeliveryRead],
    summary="The events delivered to a rule (and refused), newest first",
    responses=problem_responses(400, 403, 404, 422),
)
async def rule_deliveries(rule_id: RuleId, session: SessionDep, cursor: Cursor = None, limit: Limit = 50) -> Any:
    found = await event_service.rule_deliveries(session, rule_id, limit=limit, cursor=cursor)
    return page(found.items, found.next_cursor)


# -- alerts ---------------------------------------------------------------------------------


@router.post("/alerts", status_code=201, response_model=AlertRead, summary="Create an alert", responses=problem_responses(403, 409, 422))
async def create_alert(body: AlertFields, response: Response, session: SessionDep, principal: PrincipalDep) -> Any:
    alert = await event_service.create_alert(session, principal, body.model_dump(mode="json"))
    response.headers["Location"] = f"/v1/alerts/{alert.id}"
    return alert_resource(alert)


@router.get("/alerts", response_model=Page[AlertRead], summary="List alerts, newest first (never their secrets)", responses=problem_responses(400, 403, 422))
async def list_alerts(session: SessionDep, task_id: TaskFilter = None, cursor: Cursor = None, limit: Limit = 50) -> Any:
    found = await event_service.list_alerts(session, limit=limit, cursor=cursor, task_id=task_id)
    return page([alert_resource(alert) for alert in found.items], found.next_cursor)


@router.get("/alerts/{alert_id}", response_model=AlertRead, summary="One alert", responses=problem_responses(403, 404, 422))
async def get_alert(alert_id: AlertId, session: SessionDep) -> Any:
    return alert_resource(await event_service.load_alert(session, alert_id))


@router.patch("/alerts/{alert_id}", response_model=AlertRead, summary="Change an alert", responses=problem_responses(403, 404, 409, 422))
async def update_alert(alert_id: AlertId, body: AlertPatch, session: SessionDep) -> Any:
    changes = _set_fields(body)
    return alert_resource(await event_service.update_alert(session, alert_id, changes))


@router.delete("/alerts/{alert_id}", status_code=204, summary="Delete an alert (and its deliveries)", responses=problem_responses(403, 404, 422))
async def delete_alert(alert_id: AlertId, session: SessionDep) -> Response:
    await event_service.delete_alert(session, alert_id)
    return Response(status_code=204)


@router.get(
    "/alerts/{alert_id}/deliveries",
    response_model=Page[DeliveryRead],
    summary="The notifications an alert sent (and failed to), newest first",
    responses=problem_responses(400, 403, 404, 422),
)
async def alert_deliveries(alert_id: AlertId, session: SessionDep, cursor: Cursor = None, limit: Limit = 50) -> Any:
    found = await event_service.alert_deliveries(session, alert_id, limit=limit, cursor=cursor)
    return page(found.items, found.next_cursor)
