"""Who may do what: the roles an API key holds, the permissions each grants, and the
dependency every route declares.

A route states the one permission it needs (``dependencies=[Allow(Permission.X)]``); a key
holding none of the roles that grant it gets 403 naming those roles. Runs add one rule
of their own: a ``runner`` may cancel, and see the input and output of, the runs it
started; other runs' payloads need ``payloads`` (with ``viewer`` or any reading role).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import Depends

from .deps import Principal, PrincipalDep
from .problems import ProblemError


class Permission(str, Enum):
    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"
    SCHEDULES_WRITE = "schedules:write"
    RUNS_READ = "runs:read"
    RUNS_EXECUTE = "runs:execute"
    RUNS_CANCEL = "runs:cancel"
    RUNS_PAYLOADS = "runs:payloads"
    QUESTIONS_READ = "questions:read"
    QUESTIONS_ANSWER = "questions:answer"
    KEYS_MANAGE = "keys:manage"
    AUDIT_READ = "audit:read"


READ = {Permission.TASKS_READ, Permission.RUNS_READ, Permission.QUESTIONS_READ}

GRANTS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "editor": frozenset(READ | {Permission.TASKS_WRITE, Permission.SCHEDULES_WRITE}),
    "runner": frozenset(READ | {Permission.RUNS_EXECUTE, Permission.RUNS_CANCEL}),
    "approver": frozenset(READ | {Permission.QUESTIONS_ANSWER}),
    "viewer": frozenset(READ),
    "payloads": frozenset({Permission.RUNS_PAYLOADS}),
}
ROLES = tuple(GRANTS)


def granted(principal: Principal) -> frozenset[Permission]:
    permissions: set[Permission] = set()
    for role in principal.roles:
        permissions |= GRANTS.get(role, frozenset())
    return frozenset(permissions)


def may(principal: Principal, permission: Permission) -> bool:
    return permission in granted(principal)


def roles_granting(permission: Permission) -> list[str]:
    return [role for role, permissions in GRANTS.items() if permission in permissions]


def forbidden(principal: Principal, permission: Permission, detail: str | None = None) -> ProblemError:
    needed = roles_granting(permission)
    return ProblemError(
        403,
        "forbidden",
        detail
        or (
            f"API key '{principal.name}' ({', '.join(principal.roles) or 'no roles'}) may not do this: "
            f"it needs {permission.value}, which the role {' or '.join(needed)} grants"
        ),
        required_permission=permission.value,
        required_roles=needed,
    )


def Allow(permission: Permission) -> Any:
    """The route dependency: the caller's key must grant ``permission``."""

    async def check(principal: PrincipalDep) -> Principal:
        if not may(principal, permission):
            raise forbidden(principal, permission)
        return principal

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)


def sees_payloads(principal: Principal, run: Any) -> bool:
    """Whether the caller may read a run's input, output and logs."""
    if may(principal, Permission.RUNS_PAYLOADS):
        return True
    return may(principal, Permission.RUNS_EXECUTE) and run.created_by == principal.name


def may_cancel(principal: Principal, run: Any) -> bool:
    if "admin" in principal.roles:
        return True
    return may(principal, Permission.RUNS_CANCEL) and run.created_by == principal.name
