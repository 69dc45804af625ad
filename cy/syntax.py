"""Syntax tree of a Cy program, and the ``Visitor`` base every pass over it derives from.

The node types every stage shares: the parser builds them; the resolver, the type checker
and the code generator walk them through ``Visitor``. Imports nothing from ``cy``.
Every node carries its 1-based line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Node:
    line: int
    col: int


# -- expressions ----------------------------------------------------------------------


@dataclass(eq=False)
class Literal(Node):
    value: Any


@dataclass(eq=False)
class Var(Node):
    name: str


@dataclass(eq=False)
class Interp(Node):
    """An interpolated string.

    ``values`` are evaluated left to right first; then ``parts`` (``str`` pieces and
    ``Placeholder``s referring to a value by index) are joined.
    """

    parts: list
    values: list


@dataclass(eq=False)
class Placeholder:
    slot: int
    hint: str | None


@dataclass(eq=False)
class ListLit(Node):
    items: list


@dataclass(eq=False)
class DictLit(Node):
    pairs: list
    """(key expression, value expression) pairs."""


@dataclass(eq=False)
class Comprehension(Node):
    element: Node
    var: str
    iterable: Node
    condition: Node | None


@dataclass(eq=False)
class Field(Node):
    obj: Node
    name: str


@dataclass(eq=False)
class Index(Node):
    obj: Node
    index: Node


@dataclass(eq=False)
class Binary(Node):
    op: str
    """One of ``+ - * / % == != < <= > >= in``."""
    left: Node
    right: Node


@dataclass(eq=False)
class Logical(Node):
    op: str
    """``and``, ``or`` or ``??``."""
    operands: list


@dataclass(eq=False)
class Unary(Node):
    op: str
    """``not``, ``-`` or ``+``."""
    operand: Node


@dataclass(eq=False)
class Call(Node):
    name: str
    args: list
    kwargs: list
    """(name, expression) pairs in source order."""
    spec: Any = None
    """The resolved ``ToolSpec`` (None for a stubbed unknown tool)."""


@dataclass(eq=False)
class IfExpr(Node):
    branches: list
    """(condition, expression) pairs."""
    otherwise: Node


# -- statements -----------------------------------------------------------------------


@dataclass(eq=False)
class Assign(Node):
    name: str
    op: str
    value: Node


@dataclass(eq=False)
class IndexAssign(Node):
    target: Index
    op: str
    value: Node


@dataclass(eq=False)
class FieldAssign(Node):
    target: Field
    op: str
    value: Node


@dataclass(eq=False)
class ExprStmt(Node):
    expr: Node


@dataclass(eq=False)
class If(Node):
    branches: list
    """(condition, body) pairs: the ``if`` then every ``elif``."""
    otherwise: list | None


@dataclass(eq=False)
class While(Node):
    condition: Node
    body: list


@dataclass(eq=False)
class For(Node):
    var: str
    iterable: Node
    body: list


@dataclass(eq=False)
class Try(Node):
    body: list
    catch_var: str
    catch_body: list
    final: list | None
    catch_line: int = 0
    catch_col: int = 0


@dataclass(eq=False)
class Return(Node):
    value: Node


@dataclass(eq=False)
class Break(Node):
    pass


@dataclass(eq=False)
class Continue(Node):
    pass


@dataclass(eq=False)
class Program:
    body: list
    source: str = ""
    calls: list = field(default_factory=list)


STATEMENTS = (Assign, IndexAssign, FieldAssign, ExprStmt, If, While, For, Try, Return, Break, Continue)
NODE_TYPES = {
    kind.__name__: kind
    for kind in (
        Literal, Var, Interp, ListLit, DictLit, Comprehension, Field, Index, Binary, Logical,
        Unary, Call, IfExpr, *STATEMENTS, Program,
    )
}


class _Dispatch(dict):
    """Node class to ``visit_`` function; a class without one goes to ``generic_visit``."""

    def __init__(self, table: dict, fallback) -> None:
        super().__init__(table)
        self.fallback = fallback

    def __missing__(self, kind):
        return self.fallback


class Visitor:
    """Base of every pass over the tree: ``visit`` calls ``visit_<NodeClass>``.

    The table from node class to method is built once per subclass, when the class is
    created, so a visit is one dictionary lookup and one call. A pass whose methods take
    an extra argument redefines ``visit`` with that fixed signature (or calls
    ``self._visits[type(node)]`` itself), which is faster than passing ``*args`` through.
    """

    _visits: _Dispatch

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = {}
        for name in dir(cls):
            if not name.startswith("visit_"):
                continue
            kind = NODE_TYPES.get(name[6:])
            if kind is None:
                raise TypeError(f"{cls.__name__}.{name} names no syntax node")
            table[kind] = getattr(cls, name)
        cls._visits = _Dispatch(table, cls.generic_visit)

    def visit(self, node):
        return self._visits[type(node)](self, node)

    def generic_visit(self, node, *args):
        """What a node without a ``visit_`` method gives; ``None`` unless overridden."""
        return None


Visitor._visits = _Dispatch({}, Visitor.generic_visit)
