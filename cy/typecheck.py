"""Typecheck stage of the Cy front end: the optional static type check (``check_types``).

Pipeline: scanner -> parser (+ interpolation) -> resolver -> **typecheck** -> codegen ->
program. Imports only ``syntax``, ``errors`` and ``tools``; never a later stage. The rules
are those of §18 of the Cy reference (LANGUAGE.md in the shared design docs).

A small flow-insensitive inference over the syntax tree. Types are ``(base, nullable)``
pairs with ``base`` one of ``number string boolean null list dict any``. Field and index
access produce nullable types; ``??`` removes nullability. All problems are collected and
reported together as one ``TypeError``.
"""

from __future__ import annotations

import typing
from typing import Any

from . import syntax
from .errors import CyTypeError
from .syntax import Visitor
from .tools import ToolRegistry

ANY = ("any", False)
NUMBER = ("number", False)
STRING = ("string", False)
BOOLEAN = ("boolean", False)
NULL = ("null", True)
LIST = ("list", False)
DICT = ("dict", False)

_JSON_TYPES = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "array": "list",
    "object": "dict",
}
_PYTHON_TYPES = {int: "number", float: "number", str: "string", bool: "boolean", list: "list", dict: "dict"}
UNKNOWN_INPUT = object()


def type_of_value(value: Any) -> tuple[str, bool]:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return LIST
    if isinstance(value, dict):
        return DICT
    return ANY


def _join(a, b):
    if a == b:
        return a
    nullable = a[1] or b[1]
    if a[0] == "null":
        return (b[0], True)
    if b[0] == "null":
        return (a[0], True)
    if a[0] == b[0]:
        return (a[0], nullable)
    return ("any", nullable)


def _return_type(fn) -> tuple[str, bool]:
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:
        return ANY
    base = _PYTHON_TYPES.get(hint)
    return (base, False) if base else ANY


class TypeChecker(Visitor):
    """Statements' ``visit_`` methods return nothing; expressions' return their type."""

    def __init__(self, registry: ToolRegistry, *, input_value: Any, known_names: set | None) -> None:
        self.registry = registry
        self.errors: list[tuple[int, str]] = []
        self.env: dict[str, tuple[str, bool]] = {}
        if input_value is UNKNOWN_INPUT:
            self.env["input"] = ANY
        else:
            self.env["input"] = type_of_value(input_value)
        self.known_names = known_names

    def report(self, node, message: str) -> None:
        self.errors.append((node.line, message))

    def generic_visit(self, node, *args) -> tuple[str, bool]:
        return ANY

    # -- statements -------------------------------------------------------------------

    def block(self, body: list) -> None:
        visits = self._visits
        for stmt in body:
            visits[type(stmt)](self, stmt)

    def assign(self, name: str, kind) -> None:
        previous = self.env.get(name)
        self.env[name] = kind if previous is None else _join(previous, kind) if previous != kind else kind

    def visit_Assign(self, node: syntax.Assign) -> None:
        value = node.value
        if node.op != "=":
            value = syntax.Binary(node.line, node.col, node.op[0], syntax.Var(node.line, node.col, node.name), value)
        self.env[node.name] = self.visit(value)

    def visit_IndexAssign(self, node) -> None:
        self.visit(node.value)
        base = node.target
        while type(base) in (syntax.Field, syntax.Index):
            if type(base) is syntax.Index:
                self.visit(base.index)
            base = base.obj
        self.visit(base)

    visit_FieldAssign = visit_IndexAssign

    def visit_ExprStmt(self, node: syntax.ExprStmt) -> None:
        self.visit(node.expr)

    def visit_Return(self, node: syntax.Return) -> None:
        self.visit(node.value)

    def visit_If(self, node: syntax.If) -> None:
        for condition, body in node.branches:
            self.visit(condition)
            self.block(body)
        if node.otherwise is not None:
            self.block(node.otherwise)

    def visit_While(self, node: syntax.While) -> None:
        self.visit(node.condition)
        self.block(node.body)

    def visit_For(self, node: syntax.For) -> None:
        self.visit(node.iterable)
        self.assign(node.var, ANY)
        self.block(node.body)

    def visit_Try(self, node: syntax.Try) -> None:
        self.block(node.body)
        self.assign(node.catch_var, ANY)
        self.block(node.catch_body)
        if node.final is not None:
            self.block(node.final)

    # -- expressions ------------------------------------------------------------------

    def visit_Literal(self, node: syntax.Literal) -> tuple[str, bool]:
        return type_of_value(node.value)

    def visit_Var(self, node: syntax.Var) -> tuple[str, bool]:
        found = self.env.get(node.name)
        if found is None:
            if self.known_names is None or node.name in self.known_names:
                return ANY
            self.report(node, f"Undefined variable '{node.name}'")
            return ANY
        return found

    def visit_Logical(self, node: syntax.Logical) -> tuple[str, bool]:
        types = [self.visit(operand) for operand in node.operands]
        if node.op == "??":
            result = (types[-1][0], types[-1][1])
            for current in reversed(types[:-1]):
                result = _join((current[0], False), result) if current[0] != "null" else result
            return (result[0], types[-1][1] and all(t[1] for t in types))
        result = types[0]
        for current in types[1:]:
            result = _join(result, current)
        return result

    # Chains of unary operators, fields and indexes are walked in a loop, innermost
    # first, so their length costs no Python recursion.

    def visit_Unary(self, node: syntax.Unary) -> tuple[str, bool]:
        ops = []
        while type(node) is syntax.Unary:
            ops.append(node.op)
            node = node.operand
        operand = self.visit(node)
        for op in reversed(ops):
            operand = BOOLEAN if op == "not" else NUMBER if operand[0] in ("number", "any", "boolean") else ANY
        return operand

    def visit_Field(self, node: syntax.Field) -> tuple[str, bool]:
        chain = []
        while type(node) is syntax.Field:
            chain.append(node)
            node = node.obj
        base = self.visit(node)
        for field in reversed(chain):
            if base[0] in ("number", "string", "boolean", "list") and not base[1]:
                self.report(
                    field,
                    f"cannot access field '{field.name}' on {base[0]}. Field access requires an object.",
                )
            base = ("any", True)
        return base

    def visit_Index(self, node: syntax.Index) -> tuple[str, bool]:
        indexes = []
        while type(node) is syntax.Index:
            indexes.append(node.index)
            node = node.obj
        self.visit(node)
        for index in reversed(indexes):
            self.visit(index)
        return ("any", True)

    def visit_Interp(self, node: syntax.Interp) -> tuple[str, bool]:
        for value in node.values:
            self.visit(value)
        return STRING

    def visit_ListLit(self, node: syntax.ListLit) -> tuple[str, bool]:
        for item in node.items:
            self.visit(item)
        return LIST

    def visit_DictLit(self, node: syntax.DictLit) -> tuple[str, bool]:
        for key, value in node.pairs:
            self.visit(key)
            self.visit(value)
        return DICT

    def visit_Comprehension(self, node: syntax.Comprehension) -> tuple[str, bool]:
        self.visit(node.iterable)
        self.assign(node.var, ANY)
        if node.condition is not None:
            self.visit(node.condition)
        self.visit(node.element)
        return LIST

    def visit_IfExpr(self, node: syntax.IfExpr) -> tuple[str, bool]:
        result = None
        for condition, value in node.branches:
            self.visit(condition)
            current = self.visit(value)
            result = current if result is None else _join(result, current)
        return _join(result, self.visit(node.otherwise))

    def visit_Binary(self, node: syntax.Binary) -> tuple[str, bool]:
        left = self.visit(node.left)
        right = self.visit(node.right)
        op = node.op
        if op in ("==", "!=", "<", "<=", ">", ">=", "in"):
            return BOOLEAN
        if left[0] == "any" or right[0] == "any":
            if left[1] or right[1]:
                if op == "+":
                    self.report(node, _NULLABLE_ADD)
            return NUMBER if op != "+" else ANY
        if left[1] or right[1]:
            if op == "+":
                self.report(node, _NULLABLE_ADD)
                return ANY
            self.report(node, f"cannot use '{op}' with nullable types. Use ?? operator for explicit null handling.")
            return NUMBER
        if op == "+":
            numeric = {"number", "boolean"}
            if left[0] in numeric and right[0] in numeric:
                return NUMBER
            if left[0] == right[0] and left[0] in ("string", "list"):
                return left
            self.report(
                node,
                f"cannot add {left[0]} and {right[0]}. Operator '+' requires compatible types.",
            )
            return ANY
        if left[0] not in ("number", "boolean") or right[0] not in ("number", "boolean"):
            self.report(
                node,
                f"cannot apply '{op}' to {left[0]} and {right[0]}. "
                f"Operator '{op}' requires numeric operands.",
            )
        return NUMBER

    def visit_Call(self, node: syntax.Call) -> tuple[str, bool]:
        args = [self.visit(arg) for arg in node.args]
        kwargs = [(name, self.visit(value)) for name, value in node.kwargs]
        spec = node.spec
        if spec is None:
            return ANY
        params = spec.params
        if params is not None:
            by_name = {p.name: p for p in params}
            bound = list(zip(params, args))
            for name, kind in kwargs:
                if name not in by_name:
                    self.report(node, f"Unknown parameter '{name}'.")
                else:
                    bound.append((by_name[name], kind))
            for param, kind in bound:
                expected = _JSON_TYPES.get(param.json_type or "")
                if expected and kind[0] not in ("any", expected) and not (
                    expected == "number" and kind[0] == "boolean"
                ):
                    self.report(
                        node,
                        f"parameter '{param.name}' expects {expected}, got {kind[0]}.",
                    )
        return _return_type(spec.fn)


_NULLABLE_ADD = (
    "cannot add nullable types. Use ?? operator for explicit null handling. "
    "Example: (obj.field ?? 0) + 1"
)


def type_errors(
    tree: syntax.Program,
    registry: ToolRegistry,
    *,
    input_value: Any = UNKNOWN_INPUT,
    known_names: set | None = None,
) -> list[CyTypeError]:
    """An empty list, or one ``CyTypeError`` listing every problem found.

    ``known_names`` are injected variable names; ``None`` means they are not known yet,
    so undefined variables are not reported.
    """
    checker = TypeChecker(registry, input_value=input_value, known_names=known_names)
    checker.block(tree.body)
    if not checker.errors:
        return []
    lines = "\n".join(f"Line {line}: {message}" for line, message in checker.errors)
    first_line = checker.errors[0][0]
    return [CyTypeError(f"Type validation failed:\n{lines}", first_line, 0)]
