"""Interpolation, part of the parser stage: ``${...}`` / ``$name`` templates in strings.

Pipeline: scanner -> **parser (+ interpolation)** -> resolver -> typecheck -> codegen ->
program. Imports only ``syntax``, ``errors`` and ``scanner`` (for ``process_escapes``);
never ``parser``: placeholder expressions that need a real parse go through the
``parse_program`` callback the parser passes to ``compile_string``.

Templates are analysed at compile time. Placeholder expressions are found on the raw
text; which of them are substituted is decided on the text with escapes resolved
(``\\$`` first, then ``\\{``, ``\\}``, ``\\\\``...), as the reference does. Positions of
placeholder expressions are relative to the string content.
"""

from __future__ import annotations

import re
from typing import Callable

from . import syntax
from .errors import CyError, CySyntaxError
from .scanner import process_escapes

_TEMPLATE_ESCAPES = ("$", "{", "}", "\\", '"', "n", "t", "r")
_RESOLVED = {"$": "$", "{": "{", "}": "}", "\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}

_HAS_INTERPOLATION = re.compile(r"(?<!\\)\$[a-zA-Z]|(?<!\\)\$\{(?:[^}]|\\.)*\}")
_HINTED = re.compile(r"\$\{([^}|]+)\|([^}]+)\}")
_BRACED = re.compile(r"\$\{([^}]+)\}")
_BRACED_RUNTIME = re.compile(r"\$\{([^|}]+)\}")
_SIMPLE = re.compile(r"\$([a-zA-Z][a-zA-Z0-9_]*)")

_SPACED_OPERATORS = (" + ", " - ", " * ", " / ", " % ", " and ", " or ", " not ", " == ", " != ", " < ", " > ", " <= ", " >= ")
_INDEX_PREFIX_OPERATORS = (" + ", " - ", " * ", " / ", " and ", " or ", " not ")
_EXPRESSION_MARKERS = ("(", ")", "+", "-", "*", "/", "and", "or", "not")
_PREFIX = "tempExpr = "

ParseProgram = Callable[[str], syntax.Program]


def compile_string(content: str, line: int, col: int, parse_program: ParseProgram):
    """A ``Literal`` or, when the text interpolates, an ``Interp`` node.

    ``parse_program`` parses a whole program (the parser passes its own); placeholder
    expressions that are not simple names or paths are parsed with it.
    """
    if "$" not in content or not _HAS_INTERPOLATION.search(content):
        return syntax.Literal(line, col, process_escapes(content))
    return _Template(content, parse_program).build(line, col)


class _Template:
    def __init__(self, raw: str, parse_program: ParseProgram) -> None:
        self.raw = raw
        self.parse_program = parse_program

    def build(self, line: int, col: int) -> syntax.Interp:
        values: list = []
        slots: dict[tuple[int, int], int] = {}
        compiled = self._compile_matches()
        for start, end, expr_text, is_simple in compiled:
            pos_line, pos_col = self._position(start)
            if is_simple:
                node = syntax.Var(pos_line, pos_col, expr_text)
            else:
                node = self._expression(expr_text.strip(), pos_line, pos_col)
            if node is not None:
                slots[(start, end)] = len(values)
                values.append(node)
        parts: list = []
        raw = self.raw
        if "\\" not in raw and "|" not in raw:
            text, positions = raw, range(len(raw))
            runtime = [(start, end, None) for start, end, _, _ in compiled]
        else:
            text, positions = self._escaped()
            runtime = self._runtime_matches(text)
        cursor = 0
        for m_start, m_end, hint in runtime:
            raw_start = positions[m_start]
            raw_end = positions[m_end - 1] + 1
            slot = slots.get((raw_start, raw_end))
            if slot is None:
                continue
            if m_start > cursor:
                parts.append(_resolve(text[cursor:m_start]))
            parts.append(syntax.Placeholder(slot, _resolve(hint) if hint is not None else None))
            cursor = m_end
        if cursor < len(text):
            parts.append(_resolve(text[cursor:]))
        return syntax.Interp(line, col, parts, values)

    # -- matching ---------------------------------------------------------------------

    def _compile_matches(self):
        raw = self.raw
        found = []
        for m in _HINTED.finditer(raw):
            found.append((m.start(), m.end(), m.group(1), False))
        hinted = [(s, e) for s, e, _, _ in found]
        for m in _BRACED.finditer(raw):
            if not _overlaps(m.start(), m.end(), hinted):
                found.append((m.start(), m.end(), m.group(1), False))
        taken = [(s, e) for s, e, _, _ in found]
        for m in _SIMPLE.finditer(raw):
            if not _overlaps(m.start(), m.end(), taken):
                found.append((m.start(), m.end(), m.group(1), True))
        found.sort(key=lambda item: item[0])
        return found

    @staticmethod
    def _runtime_matches(text: str):
        found = []
        for m in _HINTED.finditer(text):
            found.append((m.start(), m.end(), m.group(2)))
        taken = [(s, e) for s, e, _ in found]
        for m in _BRACED_RUNTIME.finditer(text):
            if not _overlaps(m.start(), m.end(), taken):
                found.append((m.start(), m.end(), None))
        taken = [(s, e) for s, e, _ in found]
        for m in _SIMPLE.finditer(text):
            if not _overlaps(m.start(), m.end(), taken):
                found.append((m.start(), m.end(), None))
        found.sort(key=lambda item: item[0])
        return found

    def _escaped(self) -> tuple[str, list[int]]:
        """The text with escapes replaced by private markers, and each char's raw offset."""
        chars = list(self.raw)
        positions = list(range(len(chars)))
        for k, escaped in enumerate(_TEMPLATE_ESCAPES):
            marker = chr(0xE000 + k)
            if "\\" not in chars:
                break
            out_chars: list[str] = []
            out_pos: list[int] = []
            i = 0
            n = len(chars)
            while i < n:
                if chars[i] == "\\" and i + 1 < n and chars[i + 1] == escaped:
                    out_chars.append(marker)
                    out_pos.append(positions[i])
                    i += 2
                    continue
                out_chars.append(chars[i])
                out_pos.append(positions[i])
                i += 1
            chars, positions = out_chars, out_pos
        return "".join(chars), positions

    def _position(self, start: int) -> tuple[int, int]:
        raw = self.raw
        return raw.count("\n", 0, start) + 1, start - raw.rfind("\n", 0, start)

    # -- placeholder expressions ------------------------------------------------------

    def _expression(self, content: str, line: int, col: int):
        if not content:
            return None
        if _is_simple_expression(content):
            return self._fast_path(content, line, col)
        return self._full_parse(content, line, col)

    def _fast_path(self, content: str, line: int, col: int):
        if "[" in content and "]" in content:
            return self._indexed(content)
        if "." in content and not ("(" in content and ")" in content):
            return _field_chain(content, line, col)
        return syntax.Var(line, col, _strip_dollar(content))

    def _full_parse(self, content: str, line: int, col: int):
        try:
            program = self.parse_program(_PREFIX + content.replace("$", ""))
        except CyError:
            if any(marker in content for marker in _EXPRESSION_MARKERS):
                if re.search(r"\.\w+\s*\[['\"]", content) or re.search(r"\]\.\w+", content):
                    raise CySyntaxError(
                        "Mixed dot and bracket notation is not supported in interpolations.\n"
                        "Use consistent notation: ${obj.user.name} or ${obj['user']['name']}",
                        line,
                        col,
                    ) from None
                raise CySyntaxError(f"Invalid expression syntax: {content}", line, col) from None
            return syntax.Var(line, col, content)
        if program.body:
            first = program.body[0]
            if isinstance(first, syntax.Assign) and first.op == "=":
                return first.value
        return syntax.Var(line, col, content)

    def _indexed(self, content: str):
        current = None
        remaining = content
        while "[" in remaining and "]" in remaining:
            open_at = remaining.find("[")
            obj_text = remaining[:open_at].strip()
            close_at = _matching_bracket(remaining, open_at)
            if close_at == -1:
                break
            index_text = remaining[open_at + 1 : close_at].strip()
            if current is None:
                if not obj_text:
                    return syntax.Var(1, 1, content)
                if "." in obj_text:
                    current = _field_chain(obj_text, 1, 1)
                else:
                    current = syntax.Var(1, 1, _strip_dollar(obj_text))
            current = syntax.Index(1, 1, current, self._index_expression(index_text))
            remaining = remaining[close_at + 1 :].strip()
            if not remaining or not remaining.startswith("["):
                break
        return current if current is not None else syntax.Var(1, 1, content)

    def _index_expression(self, text: str):
        text = text.strip()
        if len(text) >= 1 and text[0] == text[-1] and text[0] in "'\"":
            return syntax.Literal(1, 1, text[1:-1])
        try:
            return syntax.Literal(1, 1, float(text) if "." in text else int(text))
        except ValueError:
            pass
        if text.startswith("$") and len(text) > 1 and _is_identifier(text[1:]):
            return syntax.Var(1, 1, text[1:])
        if _is_identifier(text):
            return syntax.Var(1, 1, text)
        node = self._expression(text, 1, 1)
        if node is None:
            raise CySyntaxError(f"Failed to parse index expression: {text}", 1, 1)
        return node


def _resolve(text: str) -> str:
    if not any("\ue000" <= ch <= "\ue007" for ch in text):
        return text
    return "".join(
        _RESOLVED[_TEMPLATE_ESCAPES[ord(ch) - 0xE000]] if "\ue000" <= ch <= "\ue007" else ch
        for ch in text
    )


def _overlaps(start: int, end: int, spans) -> bool:
    return any(s <= start < e or s < end <= e for s, e in spans)


def _strip_dollar(name: str) -> str:
    return name[1:] if name.startswith("$") else name


def _is_identifier(text: str) -> bool:
    if not text or not (text[0].isalpha() or text[0] == "_"):
        return False
    return all(c.isalnum() or c == "_" for c in text)


def _field_chain(text: str, line: int, col: int):
    parts = text.split(".")
    node = syntax.Var(line, col, _strip_dollar(parts[0]))
    for name in parts[1:]:
        node = syntax.Field(line, col, node, name)
    return node


def _quote_scan(text: str, start: int, opener: str, closer: str) -> int:
    pos = start + 1
    depth = 1
    in_single = in_double = False
    while pos < len(text) and depth > 0:
        ch = text[pos]
        if ch == "'" and not in_double:
            if text[pos - 1] != "\\":
                in_single = not in_single
        elif ch == '"' and not in_single:
            if text[pos - 1] != "\\":
                in_double = not in_double
        elif not in_single and not in_double:
            if ch == opener:
                depth += 1
            elif ch == closer:
                depth -= 1
        pos += 1
    return pos - 1 if depth == 0 else -1


def _matching_bracket(text: str, start: int) -> int:
    return _quote_scan(text, start, "[", "]")


def _parens_outside_quotes(text: str) -> bool:
    in_single = in_double = False
    i = 0
    while i < len(text):
        ch = text[i]
        if i > 0 and text[i - 1] == "\\":
            i += 1
            continue
        if ch == "'" and not in_double:
            in_single = not in_single
        elif ch == '"' and not in_single:
            in_double = not in_double
        elif not in_single and not in_double and ch in "()":
            return True
        i += 1
    return False


def _is_simple_expression(content: str) -> bool:
    if any(op in content for op in _SPACED_OPERATORS):
        return False
    if _parens_outside_quotes(content):
        return False
    return _is_simple_variable(content) or _is_simple_field(content) or _is_simple_indexed(content)


def _is_simple_variable(content: str) -> bool:
    return _is_identifier(_strip_dollar(content))


def _is_simple_field(content: str) -> bool:
    if "." not in content or any(ch in content for ch in "()[]"):
        return False
    return all(_is_identifier(_strip_dollar(part.strip())) for part in content.split("."))


def _is_simple_indexed(content: str) -> bool:
    if "[" not in content or "]" not in content:
        return False
    if "(" in content and ")" in content and _parens_outside_quotes(content):
        return False
    before = content[: content.find("[")]
    return all(op not in before for op in _INDEX_PREFIX_OPERATORS)
