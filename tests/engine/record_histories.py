"""Record the workflow histories that ``test_replay.py`` replays.

Usage: ``python -m tests.engine.record_histories`` (starts its own stack and worker).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from activities.runs import RunActivities
from devstack import DevStack
from integrations.registry import get_registry
from settings import Settings

from . import plugin
from .conftest import Runner

HISTORIES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"

REPRESENTATIVE_RUNS = {
    "pure_computation": ('total = 0\nfor (i in range(10)) { total += i }\nreturn {"total": total, "s": "${total}"}', None),
    "tool_calls": ('a = app::test::echo(input)\nb = app::test::echo(value=[a, a])\nreturn b', "x"),
    "durable_timer_and_clock": ('a = now()\nsleep(1)\nreturn duration_between(a, now())', None),
    "logs_and_loop_tools": ('out = []\nfor (v in input) { log("v=${v}")\n out += [app::test::echo(v)] }\nreturn out', [1, 2, 3]),
    "script_error": ('x = input.missing.deeper\nreturn 1 / 0', {}),
    "tool_error_caught": ('try { app::test::reject(1) } catch (e) { return "${e}" }\nreturn 0', None),
}


async def record() -> None:
    import worker

    with tempfile.TemporaryDirectory() as data_dir:
        stack = DevStack(Path(data_dir), headless=True, migrate=True)
        await stack.start()
        try:
            settings = Settings(
                DATA_DIR=Path(data_dir),
                DATABASE_URL=stack.database_url,
                TEMPORAL_ADDRESS=stack.temporal_address,
                TASK_QUEUE="record-histories",
            )
            plugin.register(get_registry())
            client = await worker.connect(settings)
            activities = await RunActivities.create(settings)
            async with worker.build_worker(client, settings, activities):
                runner = Runner(client, settings)
                HISTORIES.mkdir(parents=True, exist_ok=True)
                for name, (script, run_input) in REPRESENTATIVE_RUNS.items():
                    run_id = await runner.start(script, run_input)
                    row = await runner.wait(run_id)
                    history = await client.get_workflow_handle(f"taskrun-{run_id}").fetch_history()
                    (HISTORIES / f"{name}.json").write_text(history.to_json())
                    print(f"{name}: {row.status}")
        finally:
            await stack.stop()


if __name__ == "__main__":
    asyncio.run(record())
