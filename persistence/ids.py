"""Time-ordered UUIDv7 ids. A run's id carries its creation time, which is the partition key."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime

_lock = threading.Lock()
_last_ms = 0
_last_counter = 0


def new_uuid7(at: datetime | None = None) -> uuid.UUID:
    """A UUIDv7 (RFC 9562) whose 48-bit prefix is the Unix time in milliseconds.

    Ids made in one process within the same millisecond stay ordered (12-bit counter in rand_a)."""
    global _last_ms, _last_counter
    if at is not None:
        unix_ms = int(at.timestamp() * 1000)
        counter = int.from_bytes(os.urandom(2), "big") & 0x0FFF
    else:
        with _lock:
            unix_ms = time.time_ns() // 1_000_000
            if unix_ms <= _last_ms:
                unix_ms = _last_ms
                _last_counter += 1
                if _last_counter > 0x0FFF:
                    unix_ms += 1
                    _last_counter = 0
            else:
                _last_counter = int.from_bytes(os.urandom(2), "big") & 0x01FF
            _last_ms = unix_ms
            counter = _last_counter
    return uuid7_from(unix_ms, counter, int.from_bytes(os.urandom(8), "big"))


def uuid7_from(unix_ms: int, rand_a: int, rand_b: int) -> uuid.UUID:
    """The UUIDv7 of a time and given random bits (12 of ``rand_a``, 62 of ``rand_b``): a
    workflow makes its children's run ids from its own clock and seeded random, so that a
    replay makes the same ones."""
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand_a & 0x0FFF) << 64
    value |= 0b10 << 62
    value |= rand_b & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def new_run_id(at: datetime | None = None) -> uuid.UUID:
    return new_uuid7(at)


def created_at_from_run_id(run_id: uuid.UUID | str) -> datetime:
    """The creation time embedded in a UUIDv7 run id (millisecond precision, UTC)."""
    if not isinstance(run_id, uuid.UUID):
        run_id = uuid.UUID(str(run_id))
    if run_id.version != 7:
        raise ValueError(f"{run_id} is not a UUIDv7 run id")
    unix_ms = run_id.int >> 80
    return datetime.fromtimestamp(unix_ms / 1000, tz=UTC)


