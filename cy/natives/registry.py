"""The registry of every native function, under every spelling a script may use."""

from __future__ import annotations

from typing import Iterable

from ..tools import ToolRegistry
from . import collections, core, json_, math_, network, strings, time_
from .spec import Native

MODULES = (core, json_, strings, collections, math_, network, time_)

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
    return [native for module in MODULES for native in module.NATIVES]


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
