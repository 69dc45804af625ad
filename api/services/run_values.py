"""Run inputs and outputs: kept inline in Postgres below the threshold, in the blob store above it."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from persistence.models import TaskRun
from settings import Settings
from storage import BlobNotFound, BlobStore, load_value, run_value_key, store_value

logger = logging.getLogger(__name__)


async def store_run_input(settings: Settings, store: BlobStore, run_id: uuid.UUID, value: Any) -> dict[str, Any]:
    """The `input_storage`/`input_inline`/`input_ref` column values for a run's input."""
    stored = await store_value(value, settings.INLINE_THRESHOLD_BYTES, store, run_value_key(run_id, "input"))
    return {"input_storage": stored.storage, "input_inline": stored.inline, "input_ref": stored.ref}


async def load_stored(store: BlobStore, storage: str | None, inline: Any, ref: str | None) -> Any:
    return await load_value(storage, inline, ref, store)


async def run_input(store: BlobStore, run: TaskRun) -> Any:
    """The run's input, read back from where it is stored."""
    return await load_stored(store, run.input_storage, run.input_inline, run.input_ref)


async def run_output(store: BlobStore, run: TaskRun) -> Any:
    """The run's output (None while it has none), read back from where it is stored."""
    if run.output_storage is None:
        return None
    return await load_stored(store, run.output_storage, run.output_inline, run.output_ref)


@dataclass
class RunPayloads:
    input: Any = None
    output: Any = None
    missing: list[str] = field(default_factory=list)
    """``input`` and/or ``output`` when the blob store no longer has them (they are None)."""


async def run_payloads(store: BlobStore, run: TaskRun) -> RunPayloads:
    """The run's input and output for showing it: a value the blob store lost is named, not raised."""
    payloads = RunPayloads()
    for name, read in (("input", run_input), ("output", run_output)):
        try:
            setattr(payloads, name, await read(store, run))
        except BlobNotFound as error:
            logger.warning("run %s: its %s is missing from the blob store (%s)", run.id, name, error)
            payloads.missing.append(name)
    return payloads
