"""The registry of every native function, under every spelling a script may use.

Imports the native modules directly (never the package ``cy.natives``) and ``cy.tools``.
"""

from __future__ import annotations

from typing import Iterable

from ..tools import ToolRegistry
from .collections import NATIVES as COLLECTION_NATIVES
from .core import NATIVES as CORE_NATIVES
from .json_ import NATIVES as JSON_NATIVES
from .math_ import NATIVES as MATH_NATIVES
from .network import NATIVES as NETWORK_NATIVES
from .spec import Native
from .strings import NATIVES as STRING_NATIVES
from .time_ import NATIVES as TIME_NATIVES

NATIVE_GROUPS = (
    CORE_NATIVES,
    JSON_NATIVES,
    STRING_NATIVES,
    COLLECTION_NATIVES,
    MATH_NATIVES,
    NETWORK_NATIVES,
    TIME_NATIVES,
)

# Flat names that live under ``native::tools::``; every other native exists only under its
# namespaced name and is reached by its last segment through short-name resolution.
FLAT_NAMES = frozenset(
    {
        "len",
        "sum",
        "log",
        "min",
        "max",
        "from_json",
        "to_json",
        "is_ip",
        "is_ipv4",
        "is_ipv6",
        "regex_match",
        "regex_extract",
        "url_encode",
        "url_decode",
        "timestamp_compare",
        "__to_iterable",
    }
)


def all_natives() -> list[Native]:
    return [native for group in NATIVE_GROUPS for native in group]


def register_natives(registry: ToolRegistry, natives: Iterable[Native]) -> ToolRegistry:
    for native in natives:
        for name in native.names:
            registry.register(
                name,
                native.fn,
                description=native.description,
                pure=True,
                uses_host=native.uses_host,
                metadata={} if native.work_shift is None else {"work_shift": native.work_shift},
            )
    return registry


_BASE: ToolRegistry | None = None


def default_registry() -> ToolRegistry:
    """A fresh registry holding every native; callers may add to it freely."""
    global _BASE
    if _BASE is None:
        _BASE = register_natives(ToolRegistry(), all_natives())
    return _BASE.copy()
