"""Who may do what: the roles an API key holds, the permissions each grants, and the one
table that says which permission every route needs.

``deps.authorize`` (a dependency of every ``/v1`` route) looks the matched route up in
``ROUTE_PERMISSIONS``; a key holding none of the roles that grant the permission gets 403
naming those roles, and a route missing from the table is refused to everyone. Runs add
rules of their own: a ``runner`` may cancel, and read the input, output and logs of, the
runs it started; other runs' payloads need the ``payloads`` role. Replaying a run shows its
input and output, so it follows the same rule.
"""

from __future__ import annotations

from enum import Enum

from persistence.models import TaskRun

from .problems import ProblemError
from .state import Principal


class Permission(str, Enum):
    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"
    TASKS_TEST = "tasks:test"
    SCHEDULES_WRITE = "schedules:write"
    RUNS_READ = "runs:read"
    RUNS_EXECUTE = "runs:execute"
    RUNS_CANCEL = "runs:cancel"
    RUNS_PAYLOADS = "runs:payloads"
    QUESTIONS_READ = "questions:read"
    QUESTIONS_ANSWER = "questions:answer"
    KEYS_MANAGE = "keys:manage"
    AUDIT_READ = "audit:read"
    SYSTEM_MANAGE = "system:manage"


READ = {Permission.TASKS_READ, Permission.RUNS_READ, Permission.QUESTIONS_READ}

GRANTS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "editor": frozenset(READ | {Permission.TASKS_WRITE, Permission.TASKS_TEST, Permission.SCHEDULES_WRITE}),
    "runner": frozenset(READ | {Permission.RUNS_EXECUTE, Permission.RUNS_CANCEL, Permission.TASKS_TEST}),
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


V1_PREFIX = "/v1"
"""Routes under ``/v1`` see their path without it (``scope["route"].path_format``)."""

P = Permission
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("POST", "/v1/tasks"): P.TASKS_WRITE,
    ("GET", "/v1/tasks"): P.TASKS_READ,
    ("GET", "/v1/tasks/{task_id}"): P.TASKS_READ,
    ("PATCH", "/v1/tasks/{task_id}"): P.TASKS_WRITE,
    ("DELETE", "/v1/tasks/{task_id}"): P.TASKS_WRITE,
    ("GET", "/v1/tasks/{task_id}/versions"): P.TASKS_READ,
    ("GET", "/v1/tasks/{task_id}/versions/{a}/diff/{b}"): P.TASKS_READ,
    ("POST", "/v1/tasks/{task_id}/rollback"): P.TASKS_WRITE,
    ("POST", "/v1/tasks/{task_id}/test"): P.TASKS_TEST,
    ("POST", "/v1/tasks/{task_id}/replay"): P.TASKS_TEST,
    ("POST", "/v1/tasks/{task_id}/replay-batch"): P.TASKS_TEST,
    ("POST", "/v1/scripts/check"): P.TASKS_READ,
    ("POST", "/v1/tasks/execute"): P.RUNS_EXECUTE,
    ("POST", "/v1/tasks/{task_id}/execute"): P.RUNS_EXECUTE,
    ("GET", "/v1/task-runs"): P.RUNS_READ,
    ("GET", "/v1/task-runs/{run_id}"): P.RUNS_READ,
    ("GET", "/v1/task-runs/{run_id}/logs"): P.RUNS_READ,
    ("POST", "/v1/task-runs/{run_id}/cancel"): P.RUNS_CANCEL,
    ("GET", "/v1/questions"): P.QUESTIONS_READ,
    ("GET", "/v1/questions/{question_id}"): P.QUESTIONS_READ,
    ("GET", "/v1/task-runs/{run_id}/questions"): P.QUESTIONS_READ,
    ("POST", "/v1/task-runs/{run_id}/respond"): P.QUESTIONS_ANSWER,
    ("PUT", "/v1/tasks/{task_id}/schedule"): P.SCHEDULES_WRITE,
    ("GET", "/v1/tasks/{task_id}/schedule"): P.TASKS_READ,
    ("DELETE", "/v1/tasks/{task_id}/schedule"): P.SCHEDULES_WRITE,
    ("POST", "/v1/tasks/{task_id}/schedule/pause"): P.SCHEDULES_WRITE,
    ("POST", "/v1/tasks/{task_id}/schedule/unpause"): P.SCHEDULES_WRITE,
    ("POST", "/v1/tasks/{task_id}/schedule/trigger"): P.SCHEDULES_WRITE,
    ("POST", "/v1/tasks/{task_id}/schedule/backfill"): P.SCHEDULES_WRITE,
    ("GET", "/v1/tasks/{task_id}/schedule/fire-times"): P.TASKS_READ,
    ("GET", "/v1/tasks/{task_id}/schedule/runs"): P.RUNS_READ,
    ("POST", "/v1/schedules/reconcile"): P.SYSTEM_MANAGE,
    ("POST", "/v1/api-keys"): P.KEYS_MANAGE,
    ("GET", "/v1/api-keys"): P.KEYS_MANAGE,
    ("DELETE", "/v1/api-keys/{key_id}"): P.KEYS_MANAGE,
    ("GET", "/v1/audit"): P.AUDIT_READ,
    ("POST", "/v1/workflows"): P.TASKS_WRITE,
    ("GET", "/v1/workflows"): P.TASKS_READ,
    ("GET", "/v1/workflows/{workflow}"): P.TASKS_READ,
    ("PATCH", "/v1/workflows/{workflow}"): P.TASKS_WRITE,
    ("DELETE", "/v1/workflows/{workflow}"): P.TASKS_WRITE,
    ("GET", "/v1/workflows/{workflow}/versions"): P.TASKS_READ,
    ("GET", "/v1/workflows/{workflow}/versions/{version}"): P.TASKS_READ,
    ("POST", "/v1/workflows/{workflow}/execute"): P.RUNS_EXECUTE,
    ("PUT", "/v1/workflows/{workflow}/schedule"): P.SCHEDULES_WRITE,
    ("GET", "/v1/workflows/{workflow}/schedule"): P.TASKS_READ,
    ("DELETE", "/v1/workflows/{workflow}/schedule"): P.SCHEDULES_WRITE,
    ("POST", "/v1/workflows/{workflow}/schedule/pause"): P.SCHEDULES_WRITE,
    ("POST", "/v1/workflows/{workflow}/schedule/unpause"): P.SCHEDULES_WRITE,
    ("POST", "/v1/workflows/{workflow}/schedule/trigger"): P.SCHEDULES_WRITE,
    ("POST", "/v1/workflows/{workflow}/schedule/backfill"): P.SCHEDULES_WRITE,
    ("GET", "/v1/workflows/{workflow}/schedule/fire-times"): P.TASKS_READ,
    ("GET", "/v1/workflow-runs"): P.RUNS_READ,
    ("GET", "/v1/workflow-runs/{run_id}"): P.RUNS_READ,
    ("GET", "/v1/workflow-runs/{run_id}/graph"): P.RUNS_READ,
    ("POST", "/v1/workflow-runs/{run_id}/cancel"): P.RUNS_CANCEL,
    ("GET", "/v1/tasks/{task_id}/stats"): P.RUNS_READ,
    ("GET", "/v1/stats"): P.RUNS_READ,
    # Creating, changing and rotating a hook also need RUNS_EXECUTE (api/routes/hooks.py).
    ("POST", "/v1/tasks/{task_id}/hooks"): P.TASKS_WRITE,
    ("GET", "/v1/tasks/{task_id}/hooks"): P.TASKS_READ,
    ("POST", "/v1/workflows/{workflow}/hooks"): P.TASKS_WRITE,
    ("GET", "/v1/workflows/{workflow}/hooks"): P.TASKS_READ,
    ("GET", "/v1/hooks/{hook_id}"): P.TASKS_READ,
    ("PATCH", "/v1/hooks/{hook_id}"): P.TASKS_WRITE,
    ("DELETE", "/v1/hooks/{hook_id}"): P.TASKS_WRITE,
    ("POST", "/v1/hooks/{hook_id}/rotate-secret"): P.TASKS_WRITE,
    ("POST", "/v1/hooks/{hook_id}"): P.RUNS_EXECUTE,
    ("POST", "/v1/event-rules"): P.SCHEDULES_WRITE,
    ("GET", "/v1/event-rules"): P.TASKS_READ,
    ("GET", "/v1/event-rules/{rule_id}"): P.TASKS_READ,
    ("PATCH", "/v1/event-rules/{rule_id}"): P.SCHEDULES_WRITE,
    ("DELETE", "/v1/event-rules/{rule_id}"): P.SCHEDULES_WRITE,
    ("GET", "/v1/event-rules/{rule_id}/deliveries"): P.RUNS_READ,
    ("POST", "/v1/alerts"): P.SCHEDULES_WRITE,
    ("GET", "/v1/alerts"): P.TASKS_READ,
    ("GET", "/v1/alerts/{alert_id}"): P.TASKS_READ,
    ("PATCH", "/v1/alerts/{alert_id}"): P.SCHEDULES_WRITE,
    ("DELETE", "/v1/alerts/{alert_id}"): P.SCHEDULES_WRITE,
    ("GET", "/v1/alerts/{alert_id}/deliveries"): P.RUNS_READ,
}
"""(method, path template) -> the permission the route needs. docs/api.md shows it by role.
A webhook delivery (``POST /v1/hooks/{hook_id}``) is not behind ``authorize``: a signed one
needs no key, and one to a hook with ``auth: api_key`` needs a key with this permission."""

def sees_payloads(principal: Principal, run: TaskRun) -> bool:
    """Whether the caller may read a run's input, output and logs."""
    if may(principal, Permission.RUNS_PAYLOADS):
        return True
    return may(principal, Permission.RUNS_EXECUTE) and run.created_by == principal.name


def may_cancel(principal: Principal, run: TaskRun) -> bool:
    if "admin" in principal.roles:
        return True
    return may(principal, Permission.RUNS_CANCEL) and run.created_by == principal.name
