"""The native function library every Cy script can call."""

from .registry import FLAT_NAMES, all_natives, default_registry, register_natives
from .spec import Native

__all__ = ["FLAT_NAMES", "Native", "all_natives", "default_registry", "register_natives"]
