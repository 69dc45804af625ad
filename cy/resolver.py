"""Resolver stage of the Cy front end: compile-time checks on the syntax tree.

Pipeline: scanner -> parser (+ interpolation) -> **resolver** -> typecheck -> codegen ->
program. Imports only ``syntax``, ``errors`` and ``tools``; never a later stage.

Resolves every tool call through the registry, validates namespaces and assignment
targets, checks ``break``/``continue`` placement and return coverage, and records what
``Program.analyze()`` reports. Errors are collected in source order.
"""

from __future__ import annotations

from . import syntax
from .errors import CompilerError, CyError, ToolResolutionError
from .syntax import Visitor
from .tools import THREE_PART_PREFIXES, TWO_PART_PREFIXES, ToolRegistry

RESERVED_LITERALS = frozenset({"True", "False", "None", "true", "false", "null"})
NO_RETURN = (
    "No return statement found in the program. "
    "All Cy scripts must use a return statement to produce output."
)
BRANCH_WITHOUT_RETURN = (
    "Conditional branch lacks return statement. All branches must use return to produce output."
)


def namespace_error(name: str) -> CompilerError | None:
    """The reference's namespace-shape error for ``name`` (always at line 1, column 1)."""
    parts = name.split("::")
    if len(parts) == 1:
        return None
    prefix = parts[0]
    if len(parts) == 2:
        if prefix in THREE_PART_PREFIXES:
            return CompilerError(
                f"Invalid namespace format '{name}'. "
                f"'{prefix}::' requires 3 parts: {prefix}::namespace::function",
                1,
                1,
            )
        if prefix not in TWO_PART_PREFIXES:
            return CompilerError(
                f"Invalid 2-part namespace prefix '{prefix}' in '{name}'. "
                f"Valid 2-part prefixes: {', '.join(sorted(TWO_PART_PREFIXES))}",
                1,
                1,
            )
        return None
    if len(parts) == 3:
        if prefix not in THREE_PART_PREFIXES:
            return CompilerError(
                f"Invalid namespace prefix '{prefix}' in '{name}'. "
                f"Supported 3-part prefixes: {', '.join(sorted(THREE_PART_PREFIXES))}",
                1,
                1,
            )
        if prefix == "native" and parts[1] != "tools":
            return CompilerError(
                f"Invalid native namespace '{name}'. "
                "Native functions must use format: native::tools::function_name",
                1,
                1,
            )
        return None
    return CompilerError(
        f"Invalid namespace format '{name}'. "
        "Expected 2 parts (prefix::function) or 3 parts (prefix::namespace::function)",
        1,
        1,
    )


class Resolver(Visitor):
    """The resolver stage: one pass over the tree, collecting errors in source order.

    Statements are visited recursively; the expressions of a statement are walked with an
    explicit stack (``visit_`` methods of expression nodes push their children), so long
    left-deep chains such as ``a.b.c...`` need no Python recursion.
    """

    def __init__(self, registry: ToolRegistry, *, stub_tools: bool = False) -> None:
        self.registry = registry
        self.stub_tools = stub_tools
        self.flat_names = registry.flat_names
        self.errors: list[CyError] = []
        self.calls: list[syntax.Call] = []
        self.assigned: set[str] = set()
        self.read: set[str] = set()
        self.first_read: dict[str, tuple[int, int]] = {}
        """Where each name is first read (for compile-time undefined-variable errors)."""
        self.loop_depth = 0
        self.in_finally = False

    def resolve(self, program: syntax.Program, *, validate_output: bool = True) -> list[CyError]:
        self.block(program.body)
        if validate_output:
            error = return_coverage_error(program.body)
            if error is not None:
                self.errors.append(error)
        return self.errors

    # -- statements -------------------------------------------------------------------

    def block(self, body: list) -> None:
        visits = self._visits
        for stmt in body:
            visits[type(stmt)](self, stmt)

    def visit_Assign(self, node: syntax.Assign) -> None:
        self.assignment_target(node)
        self.expr(node.value)
        if node.op != "=":
            self.read.add(node.name)
            self.first_read.setdefault(node.name, (node.line, node.col))
        self.assigned.add(node.name)

    def visit_ExprStmt(self, node: syntax.ExprStmt) -> None:
        self.expr(node.expr)

    def visit_IndexAssign(self, node) -> None:
        self.expr(node.target)
        self.expr(node.value)

    visit_FieldAssign = visit_IndexAssign

    def visit_If(self, node: syntax.If) -> None:
        for condition, body in node.branches:
            self.expr(condition)
            self.block(body)
        if node.otherwise is not None:
            self.block(node.otherwise)

    def visit_While(self, node: syntax.While) -> None:
        self.expr(node.condition)
        self.loop_body(node.body)

    def visit_For(self, node: syntax.For) -> None:
        self.expr(node.iterable)
        self.assigned.add(node.var)
        self.loop_body(node.body)

    def visit_Try(self, node: syntax.Try) -> None:
        self.block(node.body)
        self.assigned.add(node.catch_var)
        self.block(node.catch_body)
        if node.final is not None:
            saved = self.in_finally
            self.in_finally = True
            self.block(node.final)
            self.in_finally = saved

    def visit_Return(self, node: syntax.Return) -> None:
        self.expr(node.value)

    def visit_Break(self, node) -> None:
        word = "break" if type(node) is syntax.Break else "continue"
        if self.in_finally:
            self.errors.append(
                CompilerError(f"'{word}' cannot be used inside a finally block", node.line, node.col)
            )
        elif not self.loop_depth:
            self.errors.append(
                CompilerError(f"'{word}' can only be used inside a loop", node.line, node.col)
            )

    visit_Continue = visit_Break

    def loop_body(self, body: list) -> None:
        saved = self.in_finally
        self.in_finally = False
        self.loop_depth += 1
        self.block(body)
        self.loop_depth -= 1
        self.in_finally = saved

    def assignment_target(self, node: syntax.Assign) -> None:
        name = node.name
        if name == "input":
            message = "Cannot reassign the input variable"
        elif name in RESERVED_LITERALS:
            message = f"Cannot assign to reserved literal '{name}'"
        elif name in self.flat_names:
            message = f"Cannot assign to '{name}': conflicts with function name"
        else:
            return
        self.errors.append(CompilerError(message, node.line, node.col))

    # -- expressions: each visit pushes the children still to walk, last first ----------

    def expr(self, node) -> None:
        stack = [node]
        pop = stack.pop
        visits = self._visits
        while stack:
            node = pop()
            visits[type(node)](self, node, stack)

    def visit_Var(self, node: syntax.Var, stack: list) -> None:
        self.read.add(node.name)
        self.first_read.setdefault(node.name, (node.line, node.col))

    def visit_Literal(self, node: syntax.Literal, stack: list) -> None:
        pass

    def visit_Binary(self, node: syntax.Binary, stack: list) -> None:
        stack.append(node.right)
        stack.append(node.left)

    def visit_Call(self, node: syntax.Call, stack: list) -> None:
        self.resolve_call(node)
        for _, value in reversed(node.kwargs):
            stack.append(value)
        stack.extend(reversed(node.args))

    def visit_Field(self, node: syntax.Field, stack: list) -> None:
        stack.append(node.obj)

    def visit_Index(self, node: syntax.Index, stack: list) -> None:
        stack.append(node.index)
        stack.append(node.obj)

    def visit_Logical(self, node: syntax.Logical, stack: list) -> None:
        stack.extend(reversed(node.operands))

    def visit_Unary(self, node: syntax.Unary, stack: list) -> None:
        stack.append(node.operand)

    def visit_Interp(self, node: syntax.Interp, stack: list) -> None:
        stack.extend(reversed(node.values))

    def visit_ListLit(self, node: syntax.ListLit, stack: list) -> None:
        stack.extend(reversed(node.items))

    def visit_DictLit(self, node: syntax.DictLit, stack: list) -> None:
        for key, value in reversed(node.pairs):
            stack.append(value)
            stack.append(key)

    def visit_Comprehension(self, node: syntax.Comprehension, stack: list) -> None:
        self.assigned.add(node.var)
        if node.condition is not None:
            stack.append(node.condition)
        stack.append(node.iterable)
        stack.append(node.element)

    def visit_IfExpr(self, node: syntax.IfExpr, stack: list) -> None:
        stack.append(node.otherwise)
        for condition, value in reversed(node.branches):
            stack.append(value)
            stack.append(condition)

    def resolve_call(self, call: syntax.Call) -> None:
        self.calls.append(call)
        error = namespace_error(call.name)
        if error is not None:
            self.errors.append(error)
            return
        try:
            call.spec = self.registry.resolve(
                call.name, call.line, call.col, suggest=not self.stub_tools
            )
        except ToolResolutionError as exc:
            if not self.stub_tools:
                self.errors.append(exc)
        except CyError as exc:
            self.errors.append(exc)


class _Returns(Visitor):
    """Whether a statement returns on some path through it."""

    def body(self, body: list | None) -> bool:
        if not body:
            return False
        visits = self._visits
        for node in body:
            if visits[type(node)](self, node):
                return True
        return False

    def visit_Return(self, node: syntax.Return) -> bool:
        return True

    def visit_If(self, node: syntax.If) -> bool:
        return self.body(node.branches[0][1]) or self.body(node.otherwise)

    def visit_While(self, node) -> bool:
        return self.body(node.body)

    visit_For = visit_While

    def visit_Try(self, node: syntax.Try) -> bool:
        return self.body(node.body) or self.body(node.catch_body) or self.body(node.final)

    def generic_visit(self, node, *args) -> bool:
        return False


has_return = _Returns().body


def return_coverage_error(body: list) -> CompilerError | None:
    """The return-coverage rule of the Cy reference (§17 of LANGUAGE.md in the shared
    design docs), reported at line 0, column 0."""
    if not has_return(body):
        return CompilerError(NO_RETURN, 0, 0)
    if any(type(node) is syntax.If for node in body) and not _branches_covered(body):
        return CompilerError(BRANCH_WITHOUT_RETURN, 0, 0)
    return None


def _branches_covered(body: list | None) -> bool:
    if not body:
        return True
    for position, node in enumerate(body):
        if type(node) is not syntax.If:
            continue
        then_returns = has_return(node.branches[0][1])
        else_returns = has_return(node.otherwise)
        if then_returns != else_returns and not has_return(body[position + 1 :]):
            return False
        if not _branches_covered(node.branches[0][1]) or not _branches_covered(node.otherwise):
            return False
    return True
