"""Keeping large payloads out of Temporal history: a temporalio ExternalStorage driver backed by
a BlobStore, and the DataConverter that workers and clients share."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultPayloadConverter,
    ExternalStorage,
    PayloadConverter,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

from storage.blobs import BlobStore, make_blob_store

if TYPE_CHECKING:
    from settings import Settings

DRIVER_NAME = "cytasks.blob"
KEY_PREFIX = "temporal"


class BlobStorageDriver(StorageDriver):
    """Stores each large payload as one content-addressed blob (identical payloads share a blob)."""

    def __init__(self, store: BlobStore, driver_name: str = DRIVER_NAME, prefix: str = KEY_PREFIX) -> None:
        self._store = store
        self._name = driver_name
        self._prefix = prefix.strip("/")

    def name(self) -> str:
        return self._name

    def type(self) -> str:
        return "cytasks.blob"

    def _key(self, context: StorageDriverStoreContext, digest: str) -> str:
        namespace = getattr(context.target, "namespace", None) or "_"
        return f"{self._prefix}/{namespace}/{digest[:2]}/{digest}"

    async def _store_one(self, context: StorageDriverStoreContext, payload: Payload) -> StorageDriverClaim:
        data = payload.SerializeToString()
        digest = hashlib.sha256(data).hexdigest()
        key = self._key(context, digest)
        ref = self._store.ref_for(key)
        if not await self._store.exists(ref):
            ref = await self._store.put(key, data)
        return StorageDriverClaim(claim_data={"ref": ref, "sha256": digest})

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        return list(await asyncio.gather(*(self._store_one(context, p) for p in payloads)))

    async def _retrieve_one(self, claim: StorageDriverClaim) -> Payload:
        data = await self._store.get(claim.claim_data["ref"])
        expected = claim.claim_data.get("sha256")
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise ValueError(f"payload blob {claim.claim_data['ref']} does not match its digest")
        payload = Payload()
        payload.ParseFromString(data)
        return payload

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        return list(await asyncio.gather(*(self._retrieve_one(c) for c in claims)))


def external_storage(store: BlobStore, threshold: int) -> ExternalStorage:
    return ExternalStorage(drivers=[BlobStorageDriver(store)], payload_size_threshold=threshold)


def data_converter(
    settings: Settings | None = None,
    *,
    store: BlobStore | None = None,
    threshold: int | None = None,
    payload_converter_class: type[PayloadConverter] = DefaultPayloadConverter,
) -> DataConverter:
    """The converter for `Client.connect(..., data_converter=...)` in workers, the API and the CLI:
    payloads of `threshold` bytes or more (default settings.INLINE_THRESHOLD_BYTES) go to the
    blob store and only a small reference enters workflow history."""
    if settings is None:
        from settings import get_settings

        settings = get_settings()
    return DataConverter(
        payload_converter_class=payload_converter_class,
        external_storage=external_storage(
            store or make_blob_store(settings),
            settings.INLINE_THRESHOLD_BYTES if threshold is None else threshold,
        ),
    )
