"""Whether the API's dependencies answer: the database and Temporal, each `ok` or why not."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from ..state import AppState
from . import runs as run_engine

CHECK_TIMEOUT_SECONDS = 3.0


async def database_status(state: AppState) -> str:
    try:
        async with state.sessionmaker() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok"


async def temporal_status(state: AppState) -> str:
    try:
        client = await state.temporal_client()
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok" if await run_engine.temporal_reachable(client) else "unavailable"


async def dependency_statuses(state: AppState) -> dict[str, str]:
    """``{"database": ..., "temporal": ...}``, both checked at once."""
    database, temporal = await asyncio.gather(database_status(state), temporal_status(state))
    return {"database": database, "temporal": temporal}
