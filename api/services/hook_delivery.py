"""Delivering to an inbound webhook: authenticate the sender, then start a run of the hook's
task (its current version) or workflow through the same submission as the API's execute.

The run's input is ``{"body": <the JSON body>, "headers": {<allow-listed headers>},
"hook": {"id", "received_at"}}``. A hook with a ``dedup_key`` claims the value at that JSON
pointer as an idempotency key of its own scope: a value seen before starts nothing and is
answered with the first delivery's run (whatever the rest of the body), unless that run's
workflow could not be started or the run is gone: then the delivery starts a run anew.

Each accepted delivery is audited once, and so is each refusal of an authenticated one (its
status, reason and a short detail, never a secret or the body). Unauthenticated refusals (401)
write nothing: they are counted in ``cytasks_hook_deliveries_unauthenticated``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jsonpointer import EndOfList, JsonPointer, JsonPointerException
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers

from persistence.ids import new_run_id
from persistence.repository import hooks as hook_repo
from persistence.repository import runs as run_repo
from persistence.repository import workflows as workflow_repo
from persistence.repository.hooks import HookTarget

from ..authz import Permission, forbidden, may
from ..json_body import JSONBodyRejected, is_json_content_type, parse_strict
from ..offload import off_loop
from ..problems import ProblemError
from ..schemas import Trigger
from ..state import AppState, Principal, current_address, current_principal
from . import workflow_runs
from .auditing import audit
from .hook_signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureRefused, verify
from .hooks import hook_not_found, parse_hook_id
from .submission import submit_run
from .task_lookup import ensure_runnable
from .workflow_lookup import ensure_workflow_runnable

logger = logging.getLogger(__name__)

PARSE_OFF_LOOP_BYTES = 64 * 1024
MAX_INLINE_DEDUP_KEY = 200
"""A dedup value longer than this (as JSON) is keyed by its SHA-256."""
MAX_AUDITED_DETAIL = 200
UNAUTHENTICATED = Counter(
    "cytasks_hook_deliveries_unauthenticated",
    "Webhook deliveries refused 401 (no or a wrong signature or API key), not audited",
    ("auth",),
)
UNAUTHENTICATED_DETAIL = "The delivery is not authenticated for this hook"
START_FAILED = "WorkflowStartFailed"
"""The error type of a run whose workflow could not be started (submission and workflow_runs)."""


@dataclass(frozen=True)
class Delivery:
    run_id: uuid.UUID
    run_type: str
    status: str
    deduplicated: bool

    @property
    def location(self) -> str:
        return f"/v1/{'task-runs' if self.run_type == 'task_run' else 'workflow-runs'}/{self.run_id}"


ApiKeyCaller = Callable[[], Awaitable[Principal]]
"""Resolves the delivery's ``Authorization: Bearer`` key (401 when missing or invalid)."""


def _hook_principal(target: HookTarget) -> Principal:
    """Who a signed delivery acts as: the hook itself (runs show it as their creator)."""
    return Principal(key_id="", name=f"hook:{target.hook.id}", roles=())


async def _authenticate(target: HookTarget, body: bytes, headers: Headers, api_key_caller: ApiKeyCaller) -> Principal:
    hook = target.hook
    if hook.auth == "api_key":
        try:
            caller = await api_key_caller()
        except ProblemError as refusal:
            if refusal.status != 401:
                raise
            raise _unauthenticated("the Authorization header carries no valid API key", "Authorization") from None
        if not may(caller, Permission.RUNS_EXECUTE):
            raise forbidden(caller, Permission.RUNS_EXECUTE)
        return caller
    try:
        verify(
            hook.secret,
            headers.get(TIMESTAMP_HEADER),
            headers.get(SIGNATURE_HEADER),
            body,
            now=time.time(),
            window=hook.replay_window_seconds,
        )
    except SignatureRefused as refusal:
        raise _unauthenticated(str(refusal), refusal.header) from None
    return _hook_principal(target)


def _unauthenticated(reason: str, header: str) -> ProblemError:
    """One problem type whatever the hook's ``auth``, and the header at fault."""
    return ProblemError(
        401,
        "invalid-signature",
        f"{UNAUTHENTICATED_DETAIL}: {reason}",
        errors=[{"field": header, "in": "header", "message": reason}],
    )


def _ensure_enabled(target: HookTarget) -> None:
    if not target.hook.enabled:
        raise ProblemError(409, "hook-disabled", f"Webhook {target.hook.id} is disabled; enable it to deliver")
    if target.task is not None:
        ensure_runnable(target.task)
    if target.workflow is not None:
        ensure_workflow_runnable(target.workflow)


async def _parse(state: AppState, body: bytes, content_type: str | None) -> Any:
    if content_type and not is_json_content_type(content_type):
        raise ProblemError(
            415,
            "unsupported-media-type",
            f"A delivery's body is JSON (Content-Type: application/json), not {content_type[:100]}",
            errors=[{"field": "Content-Type", "in": "header", "message": "must be application/json"}],
        )
    if not body.strip():
        raise ProblemError(
            400, "invalid-json", "The body is empty; a delivery carries a JSON document",
            errors=[{"field": "body", "in": "body", "message": "empty"}],
        )
    try:
        if len(body) > PARSE_OFF_LOOP_BYTES:
            return await off_loop(parse_strict, body, state.settings.MAX_JSON_DEPTH)
        return parse_strict(body, state.settings.MAX_JSON_DEPTH)
    except JSONBodyRejected as error:
        raise ProblemError(
            400,
            "invalid-json",
            f"The body is not JSON a run can take: {error.message}" + (f" (at {error.field})" if error.field else ""),
            errors=[{"field": error.field or "body", "in": "body", "message": error.message, "type": error.kind}],
        ) from None


def _dedup_value(pointer: str | None, body: Any) -> str | None:
    if pointer is None:
        return None
    missing = ProblemError(
        422,
        "validation-error",
        f"The hook deduplicates on the JSON pointer {pointer!r}, which finds no value in the body",
        errors=[{"field": pointer, "in": "body", "message": "missing (the hook's dedup_key)"}],
    )
    try:
        value = JsonPointer(pointer).resolve(body)
    except JsonPointerException:
        raise missing from None
    if value is None or isinstance(value, EndOfList):
        raise missing
    try:
        key = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise missing from None
    if len(key) > MAX_INLINE_DEDUP_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _selected_headers(names: list[str], headers: Headers) -> dict[str, str]:
    return {name: ", ".join(headers.getlist(name)) for name in names if name in headers}


def run_input(target: HookTarget, body: Any, headers: Headers, received_at: datetime) -> dict[str, Any]:
    return {
        "body": body,
        "headers": _selected_headers(list(target.hook.headers or ()), headers),
        "hook": {"id": str(target.hook.id), "received_at": received_at.isoformat().replace("+00:00", "Z")},
    }


async def _start(
    state: AppState, session: AsyncSession, principal: Principal, target: HookTarget, input: Any, dedup: str | None
) -> Delivery:
    """Submit the run (the task's input is checked after the dedup claim, so a repeat answers the
    first run), then audit the delivery."""
    hook_id = target.hook.id  # read now: a rollback expires the loaded rows
    scope = f"hook:{hook_id}"
    fingerprint = {"hook": str(hook_id)}
    run_id = new_run_id()
    run_type = "task_run" if target.task is not None else "workflow_run"
    if dedup is not None:
        await _forget_claim_of_unstarted_run(session, scope, dedup, run_type)
    try:
        if target.task is not None:
            submission = await submit_run(
                state,
                session,
                principal,
                trigger=Trigger.webhook.value,
                input=input,
                idempotency_key=dedup,
                idempotency_scope=scope,
                request_fingerprint=fingerprint,
                task=target.task,
                pinned=target.task,
                run_id=run_id,
                input_schema=target.task.input_schema,
            )
            run, replayed = submission.run, submission.replayed
        else:
            run, replayed = await _start_workflow(state, session, principal, target, input, dedup, scope, fingerprint, run_id)
    except ProblemError as refusal:
        if dedup is not None and refusal.slug == "workflow-start-failed":
            # A redelivery is the sender's retry: it must start the run this one could not.
            await hook_repo.release_dedup_claim(session, scope=scope, key=dedup, run_id=run_id)
            await session.commit()
        raise
    delivery = Delivery(run.id, run_type, run.status, replayed)
    await _audit_accepted(session, hook_id, delivery.run_id, run_type, deduplicated=replayed)
    await session.commit()
    return delivery


async def _forget_claim_of_unstarted_run(session: AsyncSession, scope: str, dedup: str, run_type: str) -> None:
    """A value whose first run was deleted (retention, or by hand) or never started (its
    workflow start failed, in this delivery or in a retry of one cut off) starts a new run."""
    claimed = await hook_repo.dedup_claim(session, scope=scope, key=dedup)
    if claimed is None:
        return
    get = run_repo.get_run if run_type == "task_run" else workflow_repo.get_workflow_run
    run = await get(session, claimed)
    if run is None or (run.error or {}).get("type") == START_FAILED:
        await hook_repo.release_dedup_claim(session, scope=scope, key=dedup, run_id=claimed)
        await session.commit()


async def _start_workflow(
    state: AppState,
    session: AsyncSession,
    principal: Principal,
    target: HookTarget,
    input: Any,
    dedup: str | None,
    scope: str,
    fingerprint: dict[str, Any],
    run_id: uuid.UUID,
) -> tuple[Any, bool]:
    return await workflow_runs.execute(
        state,
        session,
        principal,
        str(target.workflow.id),
        input=input,
        version=None,
        trigger=Trigger.webhook.value,
        idempotency_key=dedup,
        idempotency_scope=scope,
        request_fingerprint=fingerprint,
        run_id=run_id,
    )


async def _audit_accepted(
    session: AsyncSession, hook_id: uuid.UUID, run_id: uuid.UUID, run_type: str, *, deduplicated: bool
) -> None:
    await audit(
        session,
        "hook.deliver",
        "hook",
        hook_id,
        details={"run_id": str(run_id), "run_type": run_type, "deduplicated": deduplicated},
    )


async def _record_refusal(session: AsyncSession, hook_id: uuid.UUID, auth: str, refusal: ProblemError) -> None:
    await session.rollback()
    if refusal.status == 401:
        UNAUTHENTICATED.labels(auth=auth).inc()
        logger.debug("delivery to hook %s refused unauthenticated: %s", hook_id, refusal.errors)
        return
    detail = refusal.detail or ""
    if len(detail) > MAX_AUDITED_DETAIL:
        detail = detail[: MAX_AUDITED_DETAIL - 1] + "…"
    await audit(
        session,
        "hook.deliver",
        "hook",
        hook_id,
        outcome="refused",
        details={"status": refusal.status, "reason": refusal.slug, "detail": detail},
    )
    await session.commit()


async def deliver(
    state: AppState,
    session: AsyncSession,
    hook_ref: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    client_address: str | None,
    api_key_caller: ApiKeyCaller,
) -> Delivery:
    """Authenticate, check, start; 404 for no such hook, a problem naming the reason otherwise."""
    received_at = datetime.now(UTC)
    request_headers = headers if isinstance(headers, Headers) else Headers(headers=dict(headers))
    hook_id = parse_hook_id(hook_ref)
    target = await hook_repo.get_hook_target(session, hook_id)
    if target is None:
        raise hook_not_found(hook_id)
    auth = target.hook.auth
    current_address.set(client_address)
    current_principal.set(None)
    try:
        principal = await _authenticate(target, body, request_headers, api_key_caller)
        current_principal.set(principal)
        _ensure_enabled(target)
        parsed = await _parse(state, body, request_headers.get("content-type"))
        dedup = _dedup_value(target.hook.dedup_key, parsed)
        delivery = await _start(state, session, principal, target, run_input(target, parsed, request_headers, received_at), dedup)
    except ProblemError as refusal:
        await _record_refusal(session, hook_id, auth, refusal)
        raise
    return delivery
