"""`cytasks dev` as a user runs it: a subprocess killed with SIGKILL takes its Postgres and
Temporal with it, leftovers of an earlier death are cleaned up at the next start, and Ctrl-C
stops everything. `cytasks db maintain` finds the running dev stack's database."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from devstack import find_free_ports, is_port_open
from devstack.leftovers import alive, postmaster_pid, read_temporal_pidfile

pytestmark = pytest.mark.stack

CYTASKS = str(Path(sys.executable).parent / "cytasks")
STARTUP_DEADLINE = 180.0
API_KEY = "lifecycle-test-key-0123456789"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYTASKS_")}
    env["CYTASKS_API_KEY"] = API_KEY
    env["COLUMNS"] = "80"
    return env


@dataclass
class Dev:
    process: subprocess.Popen
    log: Path
    data_dir: Path
    ports: list[int]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> dict[str, int | None]:
        watchdogs = [
            child.pid
            for child in psutil.Process(self.process.pid).children()
            if "devstack.watchdog" in " ".join(child.cmdline())
        ]
        return {
            "watchdog": watchdogs[0] if watchdogs else None,
            "temporal": read_temporal_pidfile(self.data_dir / "temporal")[0],
            "postgres": postmaster_pid(self.data_dir / "postgres"),
        }


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not under pytest's private temp tree: pgserver runs Postgres as another user.
    path = Path(tempfile.mkdtemp(prefix="cytasks-dev-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _start(workdir: Path, ports: list[int], name: str) -> Dev:
    log = workdir / f"{name}.log"
    data_dir = workdir / "data"
    api_port, temporal_port, ui_port = ports
    with log.open("wb") as out:
        process = subprocess.Popen(
            [CYTASKS, "dev", "--data-dir", str(data_dir), "--api-port", str(api_port),
             "--temporal-port", str(temporal_port), "--ui-port", str(ui_port)],
            cwd=workdir, env=_clean_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    dev = Dev(process, log, data_dir, ports)
    deadline = time.monotonic() + STARTUP_DEADLINE
    while "Press Ctrl-C to stop." not in dev.output():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"cytasks dev did not start:\n{dev.output()}")
        time.sleep(0.2)
    return dev


def _wait_all_gone(pids: list[int], deadline_seconds: float = 60.0) -> list[int]:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


def _ctrl_c(dev: Dev) -> None:
    pids = dev.pids()
    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(120) == 0, dev.output()
    assert "Stopped." in dev.output()
    assert _wait_all_gone([pid for pid in pids.values() if pid]) == []
    assert not any(is_port_open("127.0.0.1", port) for port in dev.ports)


def test_sigkill_takes_the_children_along_then_a_restart_stops_on_ctrl_c(workdir: Path) -> None:
    ports = find_free_ports(3)
    dev = _start(workdir, ports, "first")
    out = dev.output()
    assert f"  export CYTASKS_URL=http://127.0.0.1:{ports[0]}\n" in out
    assert f"  export CYTASKS_API_KEY={API_KEY}\n" in out
    pids = dev.pids()
    assert all(pids.values()) and all(alive(pid) for pid in pids.values()), pids

    maintain = subprocess.run(
        [CYTASKS, "db", "maintain", "--data-dir", str(dev.data_dir)],
        cwd=workdir, env=_clean_env(), capture_output=True, text=True, timeout=120,
    )
    assert maintain.returncode == 0, maintain.stderr
    assert "Maintenance done on the dev stack's database" in maintain.stderr
    assert "runs deleted: 0" in maintain.stderr and "partitions dropped: 0" in maintain.stderr

    dev.process.kill()
    dev.process.wait()
    assert _wait_all_gone([pids["temporal"], pids["postgres"], pids["watchdog"]]) == []
    assert not is_port_open("127.0.0.1", ports[1])

    again = _start(workdir, ports, "second")
    assert "Note:" not in again.output()
    _ctrl_c(again)


def test_leftovers_of_an_unguarded_death_are_cleaned_up_at_the_next_start(workdir: Path) -> None:
    ports = find_free_ports(3)
    dev = _start(workdir, ports, "first")
    pids = dev.pids()
    os.kill(pids["watchdog"], signal.SIGKILL)
    dev.process.kill()
    dev.process.wait()
    time.sleep(1)
    assert alive(pids["temporal"]) and alive(pids["postgres"]), "the leftovers this test is about"

    again = _start(workdir, ports, "second")
    out = again.output()
    assert f"stopped a Temporal dev server (pid {pids['temporal']}) left running" in out
    assert f"dead holder(s) of the embedded Postgres ({dev.process.pid})" in out
    assert not alive(pids["temporal"])
    _ctrl_c(again)
    assert not alive(pids["postgres"])


def test_db_maintain_without_a_database_says_how_to_point_it_at_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [CYTASKS, "db", "maintain"], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "CYTASKS_DATABASE_URL" in lines[0] and "--data-dir" in lines[0]
