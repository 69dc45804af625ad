"""The registry a process uses: Cy natives, built-in tools and installed plugins.

Plugins are Python packages exposing a ``register(registry)`` callable under the
``cytasks.tools`` entry-point group. ``CYTASKS_PLUGINS`` (comma-separated
``module:callable``) adds hooks without packaging, e.g. for local development.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from cy.tools import ToolRegistry

from .builtin import register_builtin_tools


def load_hook(spec: str):
    module_name, _, attribute = spec.strip().partition(":")
    if not module_name or not attribute:
        raise ValueError(f"Plugin hook {spec!r} must look like 'package.module:register'")
    return getattr(importlib.import_module(module_name), attribute)


def build_registry(*, plugins: bool = True, hooks: str | None = None) -> ToolRegistry:
    from cy.natives import default_registry

    registry = default_registry()
    register_builtin_tools(registry)
    if plugins:
        registry.load_entry_points()
        if hooks is None:
            from settings import get_settings

            hooks = get_settings().PLUGINS
        for spec in filter(None, (part.strip() for part in hooks.split(","))):
            load_hook(spec)(registry)
    return registry


@lru_cache(maxsize=1)
def get_registry() -> ToolRegistry:
    """The process-wide registry (built once; the worker and the API share its shape)."""
    return build_registry()
