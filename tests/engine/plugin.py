"""Tools used by the engine tests, loaded like any plugin (``register(registry)``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from cy.tools import RetryPolicy, ToolRegistry


def echo(value):
    return value


def count_call(path: str, label: str) -> int:
    """Append a line to a file: the number of lines counts the tool's executions."""
    with open(path, "a") as handle:
        handle.write(label + "\n")
    return len(Path(path).read_text().splitlines())


def flaky(path: str, failures: int) -> int:
    """Fails its first ``failures`` executions (counted in a file), then answers the count."""
    executions = count_call(path, "flaky")
    if executions <= failures:
        raise RuntimeError(f"flaky failure {executions}")
    return executions


def big(size: int) -> str:
    return "x" * size


def fail(message: str):
    raise RuntimeError(message)


def reject(value):
    raise ValueError(f"reject() refused {value!r}")


async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slow done"


def leak_credential(ctx, name: str, fail: bool):
    """A careless plugin tool: it hands its secret back, or puts it in an error."""
    secret = ctx.credential(name)
    if fail:
        raise RuntimeError(f"login refused for token {secret}")
    return {"token": secret}


def register(registry: ToolRegistry) -> None:
    registry.register("app::test::echo", echo)
    registry.register("app::test::leak_credential", leak_credential, uses_host=True, retry=RetryPolicy(maximum_attempts=1))
    registry.register("app::test::count_call", count_call)
    registry.register("app::test::big", big)
    registry.register(
        "app::test::flaky_local",
        flaky,
        local=True,
        timeout_seconds=10,
        retry=RetryPolicy(maximum_attempts=3, initial_interval_seconds=0.1, backoff_coefficient=1.0),
    )
    registry.register("app::test::fail", fail, retry=RetryPolicy(maximum_attempts=2, initial_interval_seconds=0.1))
    registry.register("app::test::reject", reject)
    registry.register("app::test::slow", slow, timeout_seconds=60)
    register_blocking(registry)


def wait_for_file(path: str) -> str:
    """Blocks its thread (never the event loop) until the file exists, for at most a minute."""
    deadline = time.monotonic() + 60
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released" if Path(path).exists() else "gave up"


def hang_first_call(path: str) -> int:
    """The first call hangs (its worker is meant to die meanwhile); later calls return at once."""
    with open(path, "a") as handle:
        handle.write("call\n")
    calls = len(Path(path).read_text().splitlines())
    if calls == 1:
        time.sleep(600)
    return calls


def busy(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def register_blocking(registry: ToolRegistry) -> None:
    registry.register("app::test::wait_for_file", wait_for_file, timeout_seconds=120)
    registry.register("app::test::hang_first_call", hang_first_call, timeout_seconds=300)
    registry.register("app::test::busy", busy, retry=RetryPolicy(maximum_attempts=1))
