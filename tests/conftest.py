"""Shared fixtures. The embedded stack starts once per test session, and only if a test asks for it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devstack import DevStack


def _keep_data_dir() -> Path | None:
    value = os.environ.get("CYTASKS_TEST_DATA_DIR")
    return Path(value) if value else None


@pytest.fixture(scope="session")
async def stack() -> AsyncIterator[DevStack]:
    """PostgreSQL (migrated) and the Temporal dev server on free ports, for the whole session.

    Exposes database_url, temporal_address, ui_url, client (a temporalio Client) and env().
    The data directory is not under pytest's private temp tree: pgserver runs PostgreSQL as
    another user, which must be able to traverse the path. Set CYTASKS_TEST_DATA_DIR to keep it."""
    kept = _keep_data_dir()
    data_dir = kept or Path(tempfile.mkdtemp(prefix="cytasks-test-"))
    dev_stack = DevStack(data_dir, headless=True, migrate=True)
    try:
        await dev_stack.start()
        yield dev_stack
    finally:
        from persistence.db import dispose_engines

        try:
            await dispose_engines()
        finally:
            await dev_stack.stop()
            if kept is None:
                shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(stack: DevStack) -> str:
    return stack.database_url


@pytest.fixture(scope="session")
def temporal_address(stack: DevStack) -> str:
    return stack.temporal_address


@pytest.fixture(scope="session")
def settings_for_stack(stack: DevStack, tmp_path_factory: pytest.TempPathFactory):
    """Settings pointing at the session stack, with blobs in a temporary directory."""
    from settings import Settings

    return Settings(
        DATA_DIR=stack.data_dir,
        DATABASE_URL=stack.database_url,
        TEMPORAL_ADDRESS=stack.temporal_address,
        TEMPORAL_NAMESPACE=stack.namespace,
        BLOB_BACKEND="file",
        BLOB_DIR=tmp_path_factory.mktemp("blobs"),
    )


@pytest.fixture
async def db_session(database_url: str):
    """A session in a transaction that is rolled back after the test."""
    from persistence.db import get_sessionmaker

    async with get_sessionmaker(database_url)() as session:
        transaction = await session.begin()
        try:
            yield session
        finally:
            if transaction.is_active:
                await transaction.rollback()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore:XDG_RUNTIME_DIR is not set")
