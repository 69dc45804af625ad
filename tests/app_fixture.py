"""The API application under test: created, its lifespan run, and an authenticated client
talking to it in-process. Every test package that drives the API starts it through here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

TEST_BASE_URL = "http://cytasks.test"


@contextlib.asynccontextmanager
async def running_app(
    settings: Any, *, client_address: tuple[str, int] | None = None
) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    """The app with its lifespan run (so its start-up reconciliation too), and a client sending
    the settings' API key; ``client_address`` is the address requests appear to come from."""
    from api.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        if client_address is None:
            transport = httpx.ASGITransport(app=app)
        else:
            transport = httpx.ASGITransport(app=app, client=client_address)
        async with httpx.AsyncClient(
            transport=transport,
            base_url=TEST_BASE_URL,
            headers={"Authorization": f"Bearer {settings.API_KEY}"},
            timeout=30,
        ) as client:
            yield app, client
