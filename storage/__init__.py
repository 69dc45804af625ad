"""Large values: blob stores (file, S3), inline-or-blob run values, Temporal payload offloading."""

from storage.blobs import (
    BlobNotFound,
    BlobStore,
    FileBlobStore,
    InvalidBlobRef,
    RoutingBlobStore,
    S3BlobStore,
    make_blob_store,
)
from storage.temporal import BlobStorageDriver, data_converter, external_storage
from storage.values import INLINE, StoredValue, ValueNotJSON, encode_json, load_value, run_value_key, store_value

__all__ = [
    "INLINE",
    "BlobNotFound",
    "BlobStorageDriver",
    "BlobStore",
    "FileBlobStore",
    "InvalidBlobRef",
    "RoutingBlobStore",
    "S3BlobStore",
    "StoredValue",
    "ValueNotJSON",
    "data_converter",
    "encode_json",
    "external_storage",
    "load_value",
    "make_blob_store",
    "run_value_key",
    "store_value",
]
