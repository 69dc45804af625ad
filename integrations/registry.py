"""The registry a process uses: Cy natives, built-in tools and installed plugins."""

from __future__ import annotations

from functools import lru_cache

from cy.tools import ToolRegistry

from .builtin import register_builtin_tools


def build_registry(*, plugins: bool = True) -> ToolRegistry:
    from cy.natives import default_registry

    registry = default_registry()
    register_builtin_tools(registry)
    if plugins:
        registry.load_entry_points()
    return registry


@lru_cache(maxsize=1)
def get_registry() -> ToolRegistry:
    """The process-wide registry (built once; the worker and the API share its shape)."""
    return build_registry()
