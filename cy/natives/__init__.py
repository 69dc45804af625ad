"""The native function library every Cy script can call.

Only re-exports; no module of ``cy`` imports from this package, they import
``cy.natives.registry`` (or the module defining a name) directly.
"""

from .registry import FLAT_NAMES, all_natives, default_registry, register_natives
from .spec import Native

__all__ = ["FLAT_NAMES", "Native", "all_natives", "default_registry", "register_natives"]
