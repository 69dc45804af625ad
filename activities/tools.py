"""One dynamic activity runs every side-effecting tool; its type name is the tool's FQN."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from temporalio import activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from cy.errors import CyError
from cy.tools import ToolRegistry
from integrations.context import ToolContext, ToolOutput
from integrations.credentials import CredentialStore
from workflows.types import CY_ERROR_PREFIX, ToolInvocation, ToolResult


class ToolActivities:
    def __init__(self, registry: ToolRegistry, credentials: CredentialStore | None = None) -> None:
        self.registry = registry
        self.credentials = credentials or CredentialStore()

    @activity.defn(dynamic=True)
    async def run_tool(self, args: Sequence[RawValue]) -> ToolResult:
        fqn = activity.info().activity_type
        spec = self.registry.get(fqn)
        if spec is None:
            raise ApplicationError(
                f"No tool '{fqn}' is registered on this worker", type="ToolNotFoundError", non_retryable=True
            )
        invocation = activity.payload_converter().from_payload(args[0].payload, ToolInvocation)
        context = ToolContext(
            run_id=invocation.run_id,
            task_id=invocation.task_id,
            directive=invocation.directive,
            llm_config=invocation.llm_config or {},
            credentials=self.credentials,
        )
        try:
            if spec.uses_host:
                value = spec.fn(context, *invocation.args, **invocation.kwargs)
            else:
                value = spec.fn(*invocation.args, **invocation.kwargs)
            if inspect.isawaitable(value):
                value = await value
        except CyError as error:
            raise ApplicationError(
                error.message, type=CY_ERROR_PREFIX + error.type, non_retryable=True
            ) from error
        except ValueError as error:
            raise ApplicationError(str(error), type="ValueError", non_retryable=True) from error
        except Exception as error:
            raise ApplicationError(str(error) or type(error).__name__, type=type(error).__name__) from error
        for message in context.logs:
            activity.logger.info("%s: %s", fqn, message)
        if isinstance(value, ToolOutput):
            return ToolResult(value=_plain(value.value), llm_usage=value.llm_usage)
        return ToolResult(value=_plain(value))


def _plain(value: Any) -> Any:
    """Tool results cross the wire as JSON: tuples become lists."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
