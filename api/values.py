"""Run inputs and outputs: kept inline in Postgres below the threshold, in the blob store above it."""

from __future__ import annotations

from typing import Any

from storage import load_value, run_value_key, store_value


async def store_run_input(settings: Any, store: Any, run_id: Any, value: Any) -> dict[str, Any]:
    """The `input_storage`/`input_inline`/`input_ref` column values for a run's input."""
    stored = await store_value(value, settings.INLINE_THRESHOLD_BYTES, store, run_value_key(run_id, "input"))
    return {"input_storage": stored.storage, "input_inline": stored.inline, "input_ref": stored.ref}


async def load_stored(store: Any, storage: str | None, inline: Any, ref: str | None) -> Any:
    return await load_value(storage, inline, ref, store)
