"""Finding the workflow a request names (by id or name), and whether it may run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import WorkflowDefinition
from persistence.repository import workflows as workflow_repo

from ..problems import ProblemError, not_found


def workflow_not_found(ident: str) -> ProblemError:
    return not_found(f"No workflow with id or name '{ident}'")


def ensure_workflow_runnable(workflow: WorkflowDefinition) -> None:
    """409 unless the workflow is enabled."""
    if workflow.status != "enabled":
        raise ProblemError(
            409,
            "workflow-not-runnable",
            f"Workflow '{workflow.name}' is {workflow.status} and cannot be run",
            workflow_status=workflow.status,
        )


async def load_workflow(session: AsyncSession, ident: str, *, for_update: bool = False) -> WorkflowDefinition:
    workflow = await workflow_repo.get_workflow(session, ident, for_update=for_update)
    if workflow is None:
        raise workflow_not_found(ident)
    return workflow
