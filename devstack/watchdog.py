"""A guard process: when the process that started the dev stack dies without stopping it, stop
its Postgres and its Temporal dev server.

The owner holds the write end of this process's standard input and never writes to it
until it has stopped the stack itself, then writes `released`. End of file without that
word means the owner died (SIGKILL, a crash), since the kernel closes the pipe then.

    guard(OWNER_PID, PGDATA, TEMPORAL_DATA_DIR), run by `Watchdog.spawn` in a new interpreter.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

RELEASED = b"released\n"
_ENTRY = (
    "import sys; from pathlib import Path; from devstack.watchdog import guard; "
    "sys.exit(guard(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))"
)


@dataclass
class Watchdog:
    """The owner's side: start one with `spawn`, call `release()` after a clean stop."""

    _process: subprocess.Popen | None = field(default=None, repr=False)

    @classmethod
    def spawn(cls, owner_pid: int, pgdata: Path, temporal_dir: Path) -> Watchdog:
        process = subprocess.Popen(
            [sys.executable, "-c", _ENTRY, str(owner_pid), str(pgdata), str(temporal_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches the owner, not the guard
        )
        return cls(process)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def release(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.write(RELEASED)  # type: ignore[union-attr]
            process.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def guard(owner_pid: int, pgdata: Path, temporal_dir: Path) -> int:
    from devstack.leftovers import release_postgres, stop_orphaned_temporal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    message = sys.stdin.buffer.read()
    if message == RELEASED:
        return 0
    stop_orphaned_temporal(temporal_dir, gone=owner_pid)
    release_postgres(pgdata, gone=owner_pid)
    return 0

