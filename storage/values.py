"""Run inputs and outputs: inline JSON below a size threshold, a blob above it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.blobs import BlobStore

INLINE = "inline"


class ValueNotJSON(TypeError):
    pass


@dataclass(frozen=True)
class StoredValue:
    storage: str
    """'inline', 'file' or 's3' (the task_runs *_storage column)."""
    inline: Any
    """The value itself when inline, else None."""
    ref: str | None
    """The blob ref when not inline, else None."""
    size: int
    """Size of the JSON encoding in bytes."""


def encode_json(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as err:
        raise ValueNotJSON(f"value is not JSON-serializable: {err}") from err


async def store_value(value: Any, threshold: int, store: BlobStore, key: str) -> StoredValue:
    """Keep `value` inline when its JSON encoding is smaller than `threshold` bytes, otherwise
    write it to `store` under `key` (e.g. 'runs/<run id>/output.json')."""
    data = encode_json(value)
    # PostgreSQL's jsonb cannot hold U+0000: such values go to the blob store whatever their size.
    if len(data) < threshold and b"\\u0000" not in data:
        return StoredValue(INLINE, value, None, len(data))
    ref = await store.put(key, data)
    return StoredValue(store.kind, None, ref, len(data))


async def load_value(storage: str | None, inline: Any, ref: str | None, store: BlobStore) -> Any:
    """Read back what store_value stored. A missing storage kind (no output yet) reads as None."""
    if storage is None or storage == INLINE:
        return inline
    if ref is None:
        raise ValueError(f"{storage} value without a ref")
    return json.loads(await store.get(ref))


def run_value_key(run_id: Any, name: str) -> str:
    """The blob key of a run's input or output: runs/<yyyy-mm-dd>/<run id>/<name>.json."""
    from persistence.ids import created_at_from_run_id

    day = created_at_from_run_id(run_id).strftime("%Y-%m-%d")
    return f"runs/{day}/{run_id}/{name}.json"
