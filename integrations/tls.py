"""One TLS context for every outgoing HTTP call of a process.

Building an ``httpx.AsyncClient`` loads the CA bundle into a new SSL context (about 25 ms);
the context is thread-safe and reusable, so tools build it once and hand it to each client.
"""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
