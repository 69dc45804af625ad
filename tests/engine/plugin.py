"""Tools used by the engine tests, loaded like any plugin (``register(registry)``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cy.tools import RetryPolicy, ToolRegistry


def echo(value):
    return value


def count_call(path: str, label: str) -> int:
    """Append a line to a file: the number of lines counts the tool's executions."""
    with open(path, "a") as handle:
        handle.write(label + "\n")
    return len(Path(path).read_text().splitlines())


def big(size: int) -> str:
    return "x" * size


def fail(message: str):
    raise RuntimeError(message)


def reject(value):
    raise ValueError(f"reject() refused {value!r}")


async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slow done"


def register(registry: ToolRegistry) -> None:
    registry.register("app::test::echo", echo)
    registry.register("app::test::count_call", count_call)
    registry.register("app::test::big", big)
    registry.register("app::test::fail", fail, retry=RetryPolicy(maximum_attempts=2, initial_interval_seconds=0.1))
    registry.register("app::test::reject", reject)
    registry.register("app::test::slow", slow, timeout_seconds=60)
