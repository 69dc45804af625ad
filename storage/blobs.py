"""Blob stores for values too large to keep inline: the local file system (default) or S3/MinIO.

A ref names its backend (`file:<key>` or `s3://<bucket>/<key>`), so a stored ref stays readable
whatever the current default backend is."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from settings import Settings

_THREAD_THRESHOLD = 64 * 1024


class BlobNotFound(KeyError):
    pass


class InvalidBlobRef(ValueError):
    pass


@runtime_checkable
class BlobStore(Protocol):
    kind: str
    """The storage kind recorded next to refs in task_runs: 'file' or 's3'."""

    async def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key` (overwriting) and return its ref."""

    async def get(self, ref: str) -> bytes:
        """The bytes behind `ref`; BlobNotFound when absent."""

    async def delete(self, ref: str) -> None:
        """Remove the blob; absent blobs are not an error."""

    async def exists(self, ref: str) -> bool: ...

    def ref_for(self, key: str) -> str:
        """The ref `put(key, ...)` returns, without storing anything."""


def _checked_key(key: str) -> str:
    parts = key.split("/")
    if not key or "\\" in key or "\x00" in key or any(part in ("", ".", "..") for part in parts):
        raise InvalidBlobRef(f"invalid blob key {key!r}")
    return key


class FileBlobStore:
    kind = "file"
    _prefix = "file:"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()

    def ref_for(self, key: str) -> str:
        return self._prefix + _checked_key(key)

    def path_for(self, ref: str) -> Path:
        if not ref.startswith(self._prefix):
            raise InvalidBlobRef(f"not a file blob ref: {ref!r}")
        return self.root / _checked_key(ref[len(self._prefix):])

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def _read(self, path: Path, ref: str) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(ref) from None

    async def put(self, key: str, data: bytes) -> str:
        ref = self.ref_for(key)
        path = self.path_for(ref)
        if len(data) >= _THREAD_THRESHOLD:
            await asyncio.to_thread(self._write, path, data)
        else:
            self._write(path, data)
        return ref

    async def get(self, ref: str) -> bytes:
        path = self.path_for(ref)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(ref) from None
        if size >= _THREAD_THRESHOLD:
            return await asyncio.to_thread(self._read, path, ref)
        return self._read(path, ref)

    async def delete(self, ref: str) -> None:
        try:
            self.path_for(ref).unlink()
        except FileNotFoundError:
            pass

    async def exists(self, ref: str) -> bool:
        return self.path_for(ref).is_file()


class S3BlobStore:
    """S3 or an S3-compatible server (MinIO). boto3 is imported on first use (it takes a while)."""

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "us-east-1",
        prefix: str = "",
        create_bucket: bool = False,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client_options = {
            "endpoint_url": endpoint_url,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "region_name": region,
        }
        self._create_bucket = create_bucket
        self._client = None

    def _s3(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}),
                **{k: v for k, v in self._client_options.items() if v is not None},
            )
            if self._create_bucket:
                try:
                    client.head_bucket(Bucket=self.bucket)
                except Exception:
                    client.create_bucket(Bucket=self.bucket)
            self._client = client
        return self._client

    def _object_key(self, key: str) -> str:
        key = _checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def ref_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def _parse(self, ref: str) -> tuple[str, str]:
        if not ref.startswith("s3://"):
            raise InvalidBlobRef(f"not an s3 blob ref: {ref!r}")
        bucket, _, key = ref[len("s3://"):].partition("/")
        if not bucket or not key:
            raise InvalidBlobRef(f"not an s3 blob ref: {ref!r}")
        return bucket, key

    async def put(self, key: str, data: bytes) -> str:
        ref = self.ref_for(key)
        bucket, object_key = self._parse(ref)
        await asyncio.to_thread(lambda: self._s3().put_object(Bucket=bucket, Key=object_key, Body=data))
        return ref

    async def get(self, ref: str) -> bytes:
        bucket, object_key = self._parse(ref)

        def read() -> bytes:
            client = self._s3()
            try:
                return client.get_object(Bucket=bucket, Key=object_key)["Body"].read()
            except client.exceptions.NoSuchKey:
                raise BlobNotFound(ref) from None

        return await asyncio.to_thread(read)

    async def delete(self, ref: str) -> None:
        bucket, object_key = self._parse(ref)
        await asyncio.to_thread(lambda: self._s3().delete_object(Bucket=bucket, Key=object_key))

    async def exists(self, ref: str) -> bool:
        bucket, object_key = self._parse(ref)

        def head() -> bool:
            try:
                self._s3().head_object(Bucket=bucket, Key=object_key)
                return True
            except Exception as err:
                code = getattr(err, "response", {}).get("Error", {}).get("Code")
                if code in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise

        return await asyncio.to_thread(head)


def make_blob_store(settings: Settings | None = None) -> BlobStore:
    """The store the settings configure (CYTASKS_BLOB_BACKEND)."""
    if settings is None:
        from settings import get_settings

        settings = get_settings()
    if settings.BLOB_BACKEND == "s3":
        return S3BlobStore(
            settings.S3_BUCKET,
            endpoint_url=settings.S3_ENDPOINT_URL,
            access_key_id=settings.S3_ACCESS_KEY_ID,
            secret_access_key=settings.S3_SECRET_ACCESS_KEY,
            region=settings.S3_REGION,
            prefix=settings.S3_PREFIX,
            create_bucket=True,
        )
    return FileBlobStore(settings.blob_dir)


class RoutingBlobStore:
    """Writes to `primary`; reads and deletes any ref by its scheme (file: or s3://)."""

    def __init__(self, primary: BlobStore, *others: BlobStore) -> None:
        self.primary = primary
        self.kind = primary.kind
        self._stores = (primary, *others)

    def ref_for(self, key: str) -> str:
        return self.primary.ref_for(key)

    def _store_for(self, ref: str) -> BlobStore:
        kind = "s3" if ref.startswith("s3://") else "file" if ref.startswith("file:") else None
        for store in self._stores:
            if store.kind == kind:
                return store
        raise InvalidBlobRef(f"no blob store configured for {ref!r}")

    async def put(self, key: str, data: bytes) -> str:
        return await self.primary.put(key, data)

    async def get(self, ref: str) -> bytes:
        return await self._store_for(ref).get(ref)

    async def delete(self, ref: str) -> None:
        await self._store_for(ref).delete(ref)

    async def exists(self, ref: str) -> bool:
        return await self._store_for(ref).exists(ref)
