"""Processes of the dev stack left behind by a `cytasks dev` that died: find them, stop them.

pgserver records every process holding a server in `<pgdata>/.handle_pids.json` and stops
the server only when the last one lets go, so a dead holder would keep it running forever.
The Temporal dev server runs in its own process group, so it outlives its parent unless
someone stops it; its pid and owner are kept in `<temporal data dir>/temporal.pid`."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

HANDLE_PIDS = ".handle_pids.json"
TEMPORAL_PIDFILE = "temporal.pid"


def alive(pid: int | None) -> bool:
    """True for a running process (a zombie, dead but not yet reaped, is not running)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _pgserver_lock():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import PostgresServer
    return PostgresServer._lock


def prune_postgres_handles(pgdata: Path, gone: int | None = None) -> tuple[list[int], list[int]]:
    """Drop `gone` and every dead pid from pgserver's holder list; return (removed, still holding)."""
    path = Path(pgdata) / HANDLE_PIDS
    with _pgserver_lock():
        try:
            pids = [int(pid) for pid in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return [], []
        kept = [pid for pid in pids if pid != gone and alive(pid)]
        removed = [pid for pid in pids if pid not in kept]
        if removed:
            path.write_text(json.dumps(kept))
    return removed, kept


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        first = (Path(pgdata) / "postmaster.pid").read_text().splitlines()[0]
        return int(first.strip())
    except (OSError, ValueError, IndexError):
        return None


def stop_postmaster(pgdata: Path, timeout: float = 30.0) -> int | None:
    """Fast shutdown (SIGINT) of the cluster's postmaster, SIGKILL after `timeout`; its pid if it ran."""
    pid = postmaster_pid(pgdata)
    if not alive(pid):
        return None
    _signal_and_wait([psutil.Process(pid)], signal.SIGINT, timeout)
    return pid


def release_postgres(pgdata: Path, gone: int | None = None) -> int | None:
    """What pgserver does when a holder exits, for a holder that died: forget it, and stop the
    server when nobody else holds it. Returns the pid of the postmaster stopped, if any."""
    _removed, holding = prune_postgres_handles(pgdata, gone)
    if holding:
        return None
    return stop_postmaster(pgdata)


def write_temporal_pidfile(data_dir: Path, pid: int) -> None:
    (Path(data_dir) / TEMPORAL_PIDFILE).write_text(json.dumps({"pid": pid, "owner": os.getpid()}))


def remove_temporal_pidfile(data_dir: Path) -> None:
    try:
        (Path(data_dir) / TEMPORAL_PIDFILE).unlink()
    except FileNotFoundError:
        pass


def read_temporal_pidfile(data_dir: Path) -> tuple[int | None, int | None]:
    try:
        record = json.loads((Path(data_dir) / TEMPORAL_PIDFILE).read_text())
        return int(record["pid"]), int(record["owner"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def _is_temporal_server(pid: int, data_dir: Path) -> bool:
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return "start-dev" in cmdline and str(Path(data_dir) / "temporal.db") in cmdline


def stop_temporal(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM to the server's process group, then SIGKILL after `timeout`."""
    try:
        group = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait_gone(group, timeout):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _wait_gone(group, 5.0)


def stop_orphaned_temporal(data_dir: Path, gone: int | None = None) -> int | None:
    """Stop the Temporal dev server of `data_dir` if the process that started it is dead
    (or is `gone`). Returns its pid if it was stopped."""
    pid, owner = read_temporal_pidfile(data_dir)
    if pid is None:
        return None
    if owner != gone and alive(owner):
        return None
    stopped = None
    if alive(pid) and _is_temporal_server(pid, data_dir):
        stop_temporal(pid)
        stopped = pid
    remove_temporal_pidfile(data_dir)
    return stopped


def temporal_owner_alive(data_dir: Path) -> int | None:
    """The pid of a live process that runs this data dir's Temporal dev server, if any."""
    pid, owner = read_temporal_pidfile(data_dir)
    if pid is not None and owner != os.getpid() and alive(owner) and alive(pid):
        return owner
    return None


def port_holder(port: int) -> str | None:
    """'pid N (name)' of the process listening on a local TCP port, when it can be told."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                name = psutil.Process(conn.pid).name()
            except psutil.Error:
                name = "?"
            return f"pid {conn.pid} ({name})"
    return None


def _wait_gone(processes: list[psutil.Process], timeout: float) -> bool:
    """Poll until none runs (a zombie counts as gone: its parent may never reap it)."""
    deadline = time.monotonic() + timeout
    while any(alive(p.pid) for p in processes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _signal_and_wait(processes: list[psutil.Process], sig: int, timeout: float) -> bool:
    for process in processes:
        try:
            process.send_signal(sig)
        except psutil.Error:
            pass
    if _wait_gone(processes, timeout):
        return True
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass
    _wait_gone(processes, 5.0)
    return False
