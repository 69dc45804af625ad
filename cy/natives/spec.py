"""The declaration every native module exports: which function answers to which names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..formatting import python_type_name as type_name

__all__ = ["Native", "type_name"]


@dataclass(frozen=True)
class Native:
    """One native function and every spelling it is registered under.

    ``names`` are written as a script writes them: flat legacy names (``len``) land in
    ``native::tools::``, two-part names (``str::len``) in ``native::<domain>::``.
    """

    names: tuple[str, ...]
    fn: Callable[..., Any]
    description: str
    uses_host: bool = False
    work_shift: int | None = None
    """The call costs one operation per 2**work_shift input elements or characters
    (default ``runtime.WORK_SHIFT``); natives doing Python-level work per element cost more."""

