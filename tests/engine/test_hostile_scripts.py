"""Hostile scripts end their runs with a clear error and never take the worker down.

Every script runs through the real workflow on a worker in its own process, started with
an address-space limit: a memory bomb that got past the checks would kill that worker
(and fail the test), not the machine. After the corpus, the same worker process must
still be alive and run an ordinary script.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from storage.blobs import make_blob_store
from storage.values import load_value

pytestmark = pytest.mark.stack

REPO_ROOT = Path(__file__).resolve().parents[2]
TASK_QUEUE = "cytasks-hostile-test"
WORKER_ADDRESS_SPACE = 6 * 1024**3

DOUBLED = """s = "x"
i = 0
while (i < 19) { s = s + s
  i += 1 }
t = "y"
j = 0
while (j < 12) { t = t + t
  j += 1 }
"""
DAG = """a = [1]
i = 0
while (i < 40) { a = [a, a]
  i += 1 }
"""
NAN = 'n = num("nan")\n'

CASES = {
    "replace grows past the budget": (DOUBLED + 'return len(str::replace(t, "", s))', "ValueTooLarge"),
    "join grows past the budget": (DOUBLED + "return len(str::join(range(3000), s))", "ValueTooLarge"),
    "indented to_json grows past the budget": ("return len(to_json(range(7000), 1000000))", "ValueTooLarge"),
    "a shared graph returned": (DAG + "return a", "ValueTooLarge"),
    "a shared graph logged": (DAG + "log(a)\nreturn 1", "ValueTooLarge"),
    "a shared graph passed to a tool": (DAG + "return app::test::echo(a)", "ValueTooLarge"),
    "a shared graph interpolated": (DAG + 'return "${a}"', "ValueTooLarge"),
    "a shared graph compared": (DAG + "b = [1]\nk = 0\nwhile (k < 40) { b = [b, b]\n k += 1 }\nreturn a == b", "ValueTooLarge"),
    "a shared graph sorted": (DAG + "return list::sort([a, a])", "ValueTooLarge"),
    "a shared graph made unique": (DAG + "return list::unique([a, [a]])", "ValueTooLarge"),
    "NaN returned": (NAN + "return n", "ValueNotSerializable"),
    "Infinity returned": ('return [num("inf")]', "ValueNotSerializable"),
    "NaN from JSON returned": ('return from_json("[NaN]")', "ValueNotSerializable"),
    "NaN passed to a tool": (NAN + "return app::test::echo({\"x\": n})", "ValueNotSerializable"),
    "a caught error returned": ("try { x = 1 / 0 } catch (e) { return e }\nreturn 0", "ValueNotSerializable"),
    "a caught error passed to a tool": ("try { x = 1 / 0 } catch (e) { return app::test::echo(e) }\nreturn 0", "ValueNotSerializable"),
    "a dict that contains itself": ('d = {}\nd["me"] = d\nreturn d', "ValueNotSerializable"),
    "a lone surrogate returned": ('return from_json("\\"\\\\ud800\\"")', "ValueNotSerializable"),
    "an integer too long for JSON": ("x = 10\ni = 0\nwhile (i < 13) { x = x * x\n i += 1 }\nreturn x", "ValueNotSerializable"),
    "a value nested 99,000 deep": ("a = []\ni = 0\nwhile (i < 99000) { a = [a]\n i += 1 }\nreturn a", "ValueTooLarge"),
    "a range past the budget": ("return len(list::unique(range(4000000)))", "ValueTooLarge"),
    "one native call over the per-call work limit": ("x = range(900000)\nreturn len(list::unique(x))", "RuntimeError"),
    "straight-line heavy calls use up the budget": (
        "x = range(250000)\nreturn [" + ", ".join(["len(list::sort(x))"] * 12) + "]",
        "RuntimeError",
    ),
    "a script too long to compile in one activation": ("x = 1\n" * 12000 + "return x", "ScriptTooLarge"),
}


def _limit_address_space() -> None:
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_ADDRESS_SPACE, WORKER_ADDRESS_SPACE))


class PeakMemory:
    """Samples a process's resident memory in the background."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@pytest.fixture(scope="module")
async def hostile_worker(engine_settings):
    settings = engine_settings.model_copy(update={"TASK_QUEUE": TASK_QUEUE})
    env = dict(os.environ)
    env.update(
        {
            "CYTASKS_DATABASE_URL": settings.DATABASE_URL,
            "CYTASKS_TEMPORAL_ADDRESS": settings.TEMPORAL_ADDRESS,
            "CYTASKS_TEMPORAL_NAMESPACE": settings.TEMPORAL_NAMESPACE,
            "CYTASKS_TASK_QUEUE": TASK_QUEUE,
            "CYTASKS_BLOB_DIR": str(settings.blob_dir),
            "CYTASKS_PLUGINS": "tests.engine.plugin:register",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "worker.py")],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_limit_address_space,
    )
    peak = PeakMemory(process.pid)
    try:
        yield settings, process, peak
    finally:
        peak.stop()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def hostile_runner(runner, hostile_worker):
    settings, _, _ = hostile_worker
    return type(runner)(runner.client, settings)


@pytest.mark.parametrize("case", list(CASES))
async def test_hostile_script_ends_its_run_with_a_clear_error(hostile_runner, hostile_worker, case):
    script, error_type = CASES[case]
    row = await hostile_runner.run(script)
    _, process, _ = hostile_worker
    assert process.poll() is None, "the worker died"
    assert row.status == "failed", (row.status, row.output_inline)
    assert row.error["type"] == error_type, row.error
    assert row.error["message"]


async def test_values_jsonb_cannot_hold_are_kept_and_logs_stay_printable(hostile_runner):
    script = 'nul = from_json("\\"a\\\\u0000b\\"")\nlog("before ${nul} after")\nreturn {"text": nul}'
    row = await hostile_runner.run(script)
    assert row.status == "completed", row.error
    assert row.output_storage != "inline"
    stored = await load_value(
        row.output_storage, row.output_inline, row.output_ref, make_blob_store(hostile_runner.settings)
    )
    assert stored == {"text": "a\x00b"}
    async with hostile_runner.sessions() as session:
        from persistence.repository import get_logs

        lines = await get_logs(session, row.id)
    assert [line.message for line in lines] == ["before a\ufffdb after"]


async def test_a_self_containing_dict_can_still_be_logged(hostile_runner):
    row = await hostile_runner.run('d = {"k": 1}\nd["me"] = d\nlog(d)\nreturn len(d)')
    assert row.status == "completed", row.error
    assert row.output_inline == 2


async def test_the_worker_survives_the_corpus_and_serves_the_next_run(hostile_runner, hostile_worker):
    _, process, peak = hostile_worker
    row = await hostile_runner.run('return {"ok": uppercase(input)}', "still here")
    assert row.status == "completed", row.error
    assert row.output_inline == {"ok": "STILL HERE"}
    assert process.poll() is None
    sys.stderr.write(f"\nhostile corpus: worker peak RSS {peak.peak / 2**20:.0f} MiB\n")
