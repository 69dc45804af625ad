"""Run-time and compile-time options of the Cy interpreter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CyOptions:
    max_iterations: int = 100_000
    """Loop budget shared by every loop and comprehension of a run (§10.7 of the Cy
    reference, LANGUAGE.md in the shared design docs)."""
    max_operations: int = 10_000_000
    """Total work budget: loop ticks, tool calls and comprehension elements."""
    max_value_size: int = 10_000_000
    """Largest string/list/dict length a script may build."""
    max_int_bits: int = 100_000
    """Largest integer (in bits) arithmetic may produce."""
    max_call_operations: int | None = None
    """Most operations one native call may cost; ``None`` is no limit beyond the budget.
    Workflow runs set it so that no single call can hold a workflow activation for long."""
    max_nesting_depth: int = 100
    """Deepest nesting of blocks and expressions the parser accepts."""
    interpolation_mode: str = "markdown"
    item_tag: str = "item"
    undefined_variables: str = "runtime"
    """``"runtime"``: reading a variable never assigned is a NameError when it runs (the
    reference's rule); ``"error"``: a compile error at its first read, unless it is
    ``input`` or one of ``predefined``."""
    predefined: tuple[str, ...] = ()
    """Names the host defines (injected variables) besides ``input``."""
    stub_tools: bool = False
    validate_output: bool = True
    check_types: bool = False
