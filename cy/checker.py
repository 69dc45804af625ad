"""Compile-time checks on the syntax tree (the resolver of the pipeline).

Resolves every tool call through the registry, validates namespaces and assignment
targets, checks ``break``/``continue`` placement and return coverage, and records what
``Program.analyze()`` reports. Errors are collected in source order.
"""

from __future__ import annotations

from . import syntax
from .errors import CompilerError, CyError, ToolResolutionError
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


class Checker:
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

    # -- statements -------------------------------------------------------------------

    def check(self, program: syntax.Program, *, validate_output: bool = True) -> list[CyError]:
        self.block(program.body)
        if validate_output:
            error = return_coverage_error(program.body)
            if error is not None:
                self.errors.append(error)
        return self.errors

    def block(self, body: list) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, node) -> None:
        kind = type(node)
        if kind is syntax.Assign:
            self.assignment_target(node)
            self.expr(node.value)
            if node.op != "=":
                self.read.add(node.name)
                self.first_read.setdefault(node.name, (node.line, node.col))
            self.assigned.add(node.name)
        elif kind is syntax.ExprStmt:
            self.expr(node.expr)
        elif kind is syntax.IndexAssign or kind is syntax.FieldAssign:
            self.expr(node.target)
            self.expr(node.value)
        elif kind is syntax.If:
            for condition, body in node.branches:
                self.expr(condition)
                self.block(body)
            if node.otherwise is not None:
                self.block(node.otherwise)
        elif kind is syntax.While:
            self.expr(node.condition)
            self.loop_body(node.body)
        elif kind is syntax.For:
            self.expr(node.iterable)
            self.assigned.add(node.var)
            self.loop_body(node.body)
        elif kind is syntax.Try:
            self.block(node.body)
            self.assigned.add(node.catch_var)
            self.block(node.catch_body)
            if node.final is not None:
                saved = self.in_finally
                self.in_finally = True
                self.block(node.final)
                self.in_finally = saved
        elif kind is syntax.Return:
            self.expr(node.value)
        elif kind is syntax.Break or kind is syntax.Continue:
            word = "break" if kind is syntax.Break else "continue"
            if self.in_finally:
                self.errors.append(
                    CompilerError(f"'{word}' cannot be used inside a finally block", node.line, node.col)
                )
            elif not self.loop_depth:
                self.errors.append(
                    CompilerError(f"'{word}' can only be used inside a loop", node.line, node.col)
                )

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

    # -- expressions ------------------------------------------------------------------

    def expr(self, node) -> None:
        stack = [node]
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is syntax.Var:
                self.read.add(node.name)
                self.first_read.setdefault(node.name, (node.line, node.col))
            elif kind is syntax.Literal:
                continue
            elif kind is syntax.Binary:
                stack.append(node.right)
                stack.append(node.left)
            elif kind is syntax.Call:
                self.resolve(node)
                for _, value in reversed(node.kwargs):
                    stack.append(value)
                stack.extend(reversed(node.args))
            elif kind is syntax.Field:
                stack.append(node.obj)
            elif kind is syntax.Index:
                stack.append(node.index)
                stack.append(node.obj)
            elif kind is syntax.Logical:
                stack.extend(reversed(node.operands))
            elif kind is syntax.Unary:
                stack.append(node.operand)
            elif kind is syntax.Interp:
                stack.extend(reversed(node.values))
            elif kind is syntax.ListLit:
                stack.extend(reversed(node.items))
            elif kind is syntax.DictLit:
                for key, value in reversed(node.pairs):
                    stack.append(value)
                    stack.append(key)
            elif kind is syntax.Comprehension:
                self.assigned.add(node.var)
                if node.condition is not None:
                    stack.append(node.condition)
                stack.append(node.iterable)
                stack.append(node.element)
            elif kind is syntax.IfExpr:
                stack.append(node.otherwise)
                for condition, value in reversed(node.branches):
                    stack.append(value)
                    stack.append(condition)

    def resolve(self, call: syntax.Call) -> None:
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


def has_return(body: list | None) -> bool:
    if not body:
        return False
    for node in body:
        kind = type(node)
        if kind is syntax.Return:
            return True
        if kind is syntax.If:
            if has_return(node.branches[0][1]) or has_return(node.otherwise):
                return True
        elif kind is syntax.While or kind is syntax.For:
            if has_return(node.body):
                return True
        elif kind is syntax.Try:
            if has_return(node.body) or has_return(node.catch_body) or has_return(node.final):
                return True
    return False


def return_coverage_error(body: list) -> CompilerError | None:
    """The return-coverage rule of the reference (§17), reported at line 0, column 0."""
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
