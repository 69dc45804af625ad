"""The Cy error taxonomy.

Every error a script can cause is a ``CyError`` carrying a stable ``type`` (the class
name used by the reference implementation, e.g. ``"RuntimeError"``), a ``message`` and
a 1-based ``line``/``column`` (``0``/``0`` when the error has no position).
"""

from __future__ import annotations

from typing import Any


class CyError(Exception):
    """Base class of every error raised for a Cy script."""

    type = "CyError"
    position_word = "Col"

    def __init__(
        self,
        message: str,
        line: int = 0,
        column: int = 0,
        *,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.suggestion = suggestion

    def __str__(self) -> str:
        return self.formatted()

    def formatted(self) -> str:
        """``"Line 3, Col 5: message"`` (no prefix when the error has no position)."""
        if self.line:
            return f"Line {self.line}, {self.position_word} {self.column}: {self.message}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }

    def report(self, source: str | None = None) -> str:
        """A multi-line report with two lines of source context each side and a caret."""
        where = f" at line {self.line}, column {self.column}" if self.line else ""
        parts = [f"{self.type}{where}:"]
        if source is not None and self.line > 0:
            lines = source.splitlines()
            first = max(1, self.line - 2)
            last = min(len(lines), self.line + 2)
            width = len(str(last))
            context = []
            for number in range(first, last + 1):
                context.append(f"  {number:>{width}} | {lines[number - 1]}")
                if number == self.line:
                    pad = " " * max(self.column - 1, 0)
                    context.append(f"  {' ' * width} | {pad}^")
            if context:
                parts.append("")
                parts.extend(context)
        parts.append("")
        parts.append(self.message)
        if self.suggestion:
            parts.append("")
            parts.append(f"Suggestion: {self.suggestion}")
        return "\n".join(parts)


class CySyntaxError(CyError):
    type = "SyntaxError"


class CompilerError(CyError):
    type = "CompilerError"
    position_word = "Column"


class ToolResolutionError(CompilerError):
    type = "ToolResolutionError"


class AmbiguousToolError(CompilerError):
    type = "AmbiguousToolError"


class CyTypeError(CompilerError):
    """Static type errors reported by the optional type checker (``check_types``)."""

    type = "TypeError"


class CyRuntimeError(CyError):
    type = "RuntimeError"


class CyNameError(CyError):
    type = "NameError"


class InterpolationError(CyError):
    type = "InterpolationError"


class ToolError(CyError):
    type = "ToolError"


class ToolNotFoundError(ToolError):
    type = "ToolNotFoundError"


class ToolInvocationError(ToolError):
    type = "ToolInvocationError"


class NotSupportedYetError(CyError):
    type = "NotSupportedYetError"


class LimitExceeded(CyRuntimeError):
    """A sandbox limit (operations, value size, nesting) was exceeded.

    Unlike other run-time errors it cannot be caught by ``try``/``catch``: a script
    must not be able to keep running once it has exhausted its budget.
    """

    type = "RuntimeError"


class ValueTooLarge(LimitExceeded):
    """A value would take more room than a run may use (as text, JSON or in memory)."""

    type = "ValueTooLarge"


class ValueNotSerializable(CyRuntimeError):
    """A value that must leave the interpreter (output, tool arguments) is not plain JSON
    data: NaN or Infinity, an error object, a cycle, text with lone surrogates."""

    type = "ValueNotSerializable"


class HumanResponseTimeout(CyError):
    """A hi-latency call timed out with no default answer."""

    type = "HumanResponseTimeout"


ERROR_CLASSES: dict[str, type[CyError]] = {
    cls.type: cls
    for cls in (
        CyError,
        CySyntaxError,
        CompilerError,
        ToolResolutionError,
        AmbiguousToolError,
        CyTypeError,
        CyRuntimeError,
        CyNameError,
        InterpolationError,
        ToolError,
        ToolNotFoundError,
        ToolInvocationError,
        NotSupportedYetError,
        HumanResponseTimeout,
        ValueTooLarge,
        ValueNotSerializable,
    )
}
