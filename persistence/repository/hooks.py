"""Inbound webhooks: their rows, the task or workflow a delivery starts, and the claims of
their ``dedup_key`` values (idempotency keys of the scope ``hook:<id>``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Hook, IdempotencyKey, Task, WorkflowDefinition


@dataclass(frozen=True)
class HookTarget:
    """A hook with the task or the workflow it runs (exactly one is set)."""

    hook: Hook
    task: Task | None
    workflow: WorkflowDefinition | None


async def create_hook(session: AsyncSession, **values: Any) -> Hook:
    hook = Hook(**values)
    session.add(hook)
    await session.flush()
    await session.refresh(hook)
    return hook


async def get_hook(session: AsyncSession, hook_id: uuid.UUID, *, for_update: bool = False) -> Hook | None:
    statement = select(Hook).where(Hook.id == hook_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_hook_target(session: AsyncSession, hook_id: uuid.UUID) -> HookTarget | None:
    """The hook and its task or workflow, in one query."""
    statement = (
        select(Hook, Task, WorkflowDefinition)
        .outerjoin(Task, Task.id == Hook.task_id)
        .outerjoin(WorkflowDefinition, WorkflowDefinition.id == Hook.workflow_id)
        .where(Hook.id == hook_id)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        return None
    return HookTarget(hook=row[0], task=row[1], workflow=row[2])


async def list_hooks(
    session: AsyncSession, *, task_id: uuid.UUID | None = None, workflow_id: uuid.UUID | None = None
) -> list[Hook]:
    statement = select(Hook).order_by(Hook.created_at, Hook.id)
    if task_id is not None:
        statement = statement.where(Hook.task_id == task_id)
    if workflow_id is not None:
        statement = statement.where(Hook.workflow_id == workflow_id)
    return list((await session.execute(statement)).scalars())


async def update_hook(session: AsyncSession, hook: Hook, changes: dict[str, Any]) -> Hook:
    for field, value in changes.items():
        setattr(hook, field, value)
    hook.updated_at = func.now()
    await session.flush()
    await session.refresh(hook)
    return hook


async def delete_hook(session: AsyncSession, hook: Hook) -> None:
    await session.delete(hook)
    await session.flush()


async def dedup_claim(session: AsyncSession, *, scope: str, key: str) -> uuid.UUID | None:
    """The run a dedup value is bound to, if it was seen."""
    statement = select(IdempotencyKey.run_id).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    return (await session.execute(statement)).scalar_one_or_none()


async def release_dedup_claim(session: AsyncSession, *, scope: str, key: str, run_id: uuid.UUID) -> None:
    """Forget a dedup value, if it is still bound to ``run_id``, so its next delivery starts a run."""
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.scope == scope, IdempotencyKey.key == key, IdempotencyKey.run_id == run_id
        )
    )
