"""Inbound webhooks as a resource: made for a task or a workflow, listed, changed, deleted,
their secret rotated. The secret is answered only by create and rotate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hitl.settings import get_hitl_settings
from persistence.models import Hook
from persistence.repository import hooks as hook_repo
from settings import Settings

from ..problems import ProblemError, not_found
from ..schemas import HookSettings, HookUpdate
from ..state import Principal
from .auditing import audit
from .hook_signatures import new_secret
from .task_lookup import load_task
from .workflow_lookup import load_workflow

NULLABLE_FIELDS = frozenset({"name", "dedup_key"})


def hook_not_found(hook_id: object) -> ProblemError:
    return not_found(f"No webhook with id '{hook_id}'")


def parse_hook_id(value: str) -> uuid.UUID:
    """A hook id from a path; one that is not a UUID names no hook (404)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise hook_not_found(value[:100]) from None


def delivery_path(hook_id: uuid.UUID) -> str:
    return f"/v1/hooks/{hook_id}"


def delivery_url(settings: Settings, hook_id: uuid.UUID) -> str:
    """Absolute with the public API URL (CYTASKS_PUBLIC_API_URL, else CYTASKS_HITL_PUBLIC_API_URL)."""
    base = settings.PUBLIC_API_URL or get_hitl_settings().PUBLIC_API_URL or ""
    return base.rstrip("/") + delivery_path(hook_id)


def _settings_values(body: HookSettings) -> dict[str, Any]:
    values = body.model_dump()
    values["auth"] = body.auth.value
    return values


def _audit_details(hook: Hook) -> dict[str, Any]:
    return {
        "task_id": str(hook.task_id) if hook.task_id else None,
        "workflow_id": str(hook.workflow_id) if hook.workflow_id else None,
        "auth": hook.auth,
        "enabled": hook.enabled,
    }


async def create_for_task(session: AsyncSession, principal: Principal, ident: str, body: HookSettings) -> Hook:
    task = await load_task(session, ident)
    return await _create(session, principal, body, task_id=task.id)


async def create_for_workflow(session: AsyncSession, principal: Principal, ident: str, body: HookSettings) -> Hook:
    workflow = await load_workflow(session, ident)
    return await _create(session, principal, body, workflow_id=workflow.id)


async def _create(session: AsyncSession, principal: Principal, body: HookSettings, **target: uuid.UUID) -> Hook:
    hook = await hook_repo.create_hook(
        session, **target, **_settings_values(body), secret=new_secret(), created_by=principal.name
    )
    await audit(session, "hook.create", "hook", hook.id, details=_audit_details(hook))
    await session.commit()
    return hook


async def list_for_task(session: AsyncSession, ident: str) -> list[Hook]:
    task = await load_task(session, ident)
    return await hook_repo.list_hooks(session, task_id=task.id)


async def list_for_workflow(session: AsyncSession, ident: str) -> list[Hook]:
    workflow = await load_workflow(session, ident)
    return await hook_repo.list_hooks(session, workflow_id=workflow.id)


async def load_hook(session: AsyncSession, hook_id: str, *, for_update: bool = False) -> Hook:
    hook = await hook_repo.get_hook(session, parse_hook_id(hook_id), for_update=for_update)
    if hook is None:
        raise hook_not_found(hook_id)
    return hook


def _changes(body: HookUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field in sorted(body.model_fields_set):
        value = getattr(body, field)
        if value is None and field not in NULLABLE_FIELDS:
            raise ProblemError(
                422,
                "validation-error",
                f"body field '{field}' cannot be null (leave it out to keep it)",
                errors=[{"field": field, "in": "body", "message": "cannot be null"}],
            )
        changes[field] = value.value if field == "auth" else value
    return changes


async def update(session: AsyncSession, hook_id: str, body: HookUpdate) -> Hook:
    hook = await load_hook(session, hook_id, for_update=True)
    changes = _changes(body)
    hook = await hook_repo.update_hook(session, hook, changes)
    await audit(session, "hook.update", "hook", hook.id, details={"changed": sorted(changes)})
    await session.commit()
    return hook


async def delete(session: AsyncSession, hook_id: str) -> Hook:
    hook = await load_hook(session, hook_id, for_update=True)
    details, deleted_id = _audit_details(hook), hook.id
    await hook_repo.delete_hook(session, hook)
    await audit(session, "hook.delete", "hook", deleted_id, details=details)
    await session.commit()
    return hook


async def rotate_secret(session: AsyncSession, hook_id: str) -> Hook:
    """A new secret; deliveries signed with the old one are refused from now on."""
    hook = await load_hook(session, hook_id, for_update=True)
    hook = await hook_repo.update_hook(
        session, hook, {"secret": new_secret(), "secret_rotated_at": datetime.now(UTC)}
    )
    await audit(session, "hook.rotate_secret", "hook", hook.id)
    await session.commit()
    return hook
