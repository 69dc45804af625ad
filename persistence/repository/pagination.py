"""Opaque keyset cursors over (created_at, id), newest first."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, and_, bindparam, tuple_

T = TypeVar("T")

MAX_PAGE_SIZE = 500


class InvalidCursor(ValueError):
    pass


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    extra: dict = field(default_factory=dict)


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError("cursor time has no time zone")
        return parsed, uuid.UUID(row_id)
    except Exception as err:
        raise InvalidCursor(f"invalid cursor: {cursor!r}") from err


def clamp_limit(limit: int | None, default: int = 50) -> int:
    if limit is None:
        return default
    return max(1, min(int(limit), MAX_PAGE_SIZE))


def before_cursor(created_at_column, id_column, cursor: str) -> ColumnElement[bool]:
    """Rows strictly after the cursor position in (created_at DESC, id DESC) order.

    A row comparison, so that an index ending in (created_at, id) takes it as its start
    position (an Index Cond) rather than filtering every row it reads before the position;
    and the bound on created_at alone, which partition pruning understands (it does not
    understand row comparisons), so partitions newer than the cursor are not read at all."""
    created_at, row_id = decode_cursor(cursor)
    at = _typed(created_at_column, created_at)
    return and_(
        created_at_column <= at,
        tuple_(created_at_column, id_column) < tuple_(at, _typed(id_column, row_id)),
    )


def _typed(column, value) -> ColumnElement:
    return bindparam(None, value, type_=column.type)


def page_from_rows(rows: list[T], limit: int) -> Page[T]:
    """Rows were fetched with limit + 1; the extra row only says that another page exists."""
    if len(rows) > limit:
        items = rows[:limit]
        last = items[-1]
        return Page(items=items, next_cursor=encode_cursor(last.created_at, last.id))  # type: ignore[attr-defined]
    return Page(items=rows, next_cursor=None)
