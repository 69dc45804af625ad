"""Codegen stage of the Cy front end: a checked syntax tree to the source of one Python function.

Pipeline: scanner -> parser (+ interpolation) -> resolver -> typecheck -> **codegen** ->
program. Imports only ``syntax``, ``errors``, ``options`` and ``runtime`` (the helpers the
generated code calls); never ``program``.

Cy variables become locals named ``v_<name>``; helpers and resolved tools live in the
function's globals under ``_``-prefixed names, so no script text can ever become a
Python name. String literals and field names are emitted only through ``repr``.
A read of a variable that is not definitely assigned is guarded against the
``UNDEFINED`` sentinel.
"""

from __future__ import annotations

import math
import re
from typing import Any

from . import runtime as rt
from . import syntax
from .errors import CompilerError, CyRuntimeError
from .options import CyOptions
from .syntax import Visitor

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_MAX_PY_BLOCKS = 18
_MAX_CHAIN = 24
_BIG = 1 << 4096
_COMPARE_HELPERS = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
_TERMINATES = object()


def base_globals(options: CyOptions) -> dict[str, Any]:
    limits = rt.Limits(
        options.max_iterations,
        options.max_operations,
        options.max_value_size,
        options.max_int_bits,
        options.max_call_operations,
    )
    return {
        "__builtins__": {},
        "_U": rt.UNDEFINED,
        "_L": limits,
        "_BIG": _BIG,
        "_type": type,
        "_int": int,
        "_str": str,
        "_dict": dict,
        "_list": list,
        "_len": len,
        "_Exc": Exception,
        "_undef": rt.undefined,
        "_over": rt.over_budget,
        "_add": rt.add,
        "_yield": rt.yield_to_host,
        "_ybefore": rt.yield_before,
        "_sub": rt.sub,
        "_mul": rt.mul,
        "_div": rt.div,
        "_mod": rt.mod,
        "_unary": rt.unary,
        "_lt": rt.lt,
        "_le": rt.le,
        "_gt": rt.gt,
        "_ge": rt.ge,
        "_in": rt.contains,
        "_eq": rt.deep_equal,
        "_CONT": rt.CONTAINERS,
        "_fld": rt.field,
        "_idx": rt.index,
        "_setidx": rt.set_index,
        "_setfld": rt.set_field,
        "_fiter": rt.for_items,
        "_citer": rt.comprehension_items,
        "_key": rt.key_text,
        "_render": rt.render,
        "_caught": rt.caught,
        "_stub": _stub,
        "_badbase": _bad_field_base,
        "_MODE": options.interpolation_mode,
        "_TAG": options.item_tag,
    }


def _stub(*_args: Any, **_kwargs: Any) -> None:
    return None


def _bad_field_base(pos):
    raise CyRuntimeError("Field assignment base must be a variable, got ToolCallNode", pos[0], pos[1])


class CodeGenerator(Visitor):
    """Generates ``def _cy_main(_input, _vars, _host, _st)`` for one program."""

    def __init__(self, program: syntax.Program, options: CyOptions, *, is_async: bool) -> None:
        self.program = program
        self.options = options
        self.is_async = is_async
        self.lines: list[str] = []
        self.depth = 1
        self.blocks = 0
        self.temps = 0
        self.globals: dict[str, Any] = {}
        self.constants: dict[int, str] = {}
        self.tools: dict[int, str] = {}
        self.names: set[str] = set()
        self.limit = min(options.max_iterations, options.max_operations)

    # -- driver -----------------------------------------------------------------------

    def generate(self) -> tuple[str, dict[str, Any]]:
        body_lines = self.lines
        self.block(self.program.body, {"input"})
        self.emit("return (False, None)")
        local_names = sorted(n for n in self.names if _IDENTIFIER.match(n) and n != "input")
        header = [
            ("async def" if self.is_async else "def") + " _cy_main(_input, _vars, _host, _st):",
            "    _it = 0",
        ]
        if local_names:
            header.append("    if _vars:")
            for name in local_names:
                header.append(f"        v_{name} = _vars.get({name!r}, _U)")
            header.append("    else:")
            header.append("        " + " = ".join(f"v_{n}" for n in local_names) + " = _U")
        header.append("    v_input = _input")
        source = "\n".join(header + body_lines) + "\n"
        return source, self.globals

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def temp(self) -> str:
        self.temps += 1
        return f"_t{self.temps}"

    def const(self, value: Any) -> str:
        key = id(value)
        name = self.constants.get(key)
        if name is None:
            name = f"_K{len(self.constants)}"
            self.constants[key] = name
            self.globals[name] = value
        return name

    def enter_py_block(self, node, count: int = 1) -> None:
        self.blocks += count
        if self.blocks > _MAX_PY_BLOCKS:
            raise CompilerError(
                "Loops and try blocks are nested too deeply "
                f"(at most {_MAX_PY_BLOCKS} levels are supported)",
                node.line,
                node.col,
            )

    # -- statements -------------------------------------------------------------------

    def block(self, body: list, defined: set | None):
        """Emit ``body``; returns the definitely-assigned set after it (or _TERMINATES)."""
        if not body:
            self.emit("pass")
            return defined
        visits = self._visits
        for stmt in body:
            if defined is _TERMINATES:
                defined = set()
            defined = visits[type(stmt)](self, stmt, defined)
        return defined

    def indented(self, body: list, defined):
        self.depth += 1
        after = self.block(body, set(defined) if defined is not _TERMINATES else set())
        self.depth -= 1
        return after

    def visit_Assign(self, node: syntax.Assign, defined: set):
        value = node.value
        if node.op != "=":
            value = syntax.Binary(node.line, node.col, node.op[0], syntax.Var(node.line, node.col, node.name), value)
        code, _ = self.visit(value, defined)
        self.names.add(node.name)
        self.emit(f"v_{node.name} = {code}")
        return defined | {node.name}

    def visit_ExprStmt(self, node: syntax.ExprStmt, defined: set):
        code, _ = self.visit(node.expr, defined)
        self.emit(code)
        return defined

    def visit_Return(self, node: syntax.Return, defined: set):
        code, _ = self.visit(node.value, defined)
        self.emit(f"return (True, {code})")
        return _TERMINATES

    def visit_Break(self, node: syntax.Break, defined: set):
        self.emit("break")
        return _TERMINATES

    def visit_Continue(self, node: syntax.Continue, defined: set):
        self.emit("continue")
        return _TERMINATES

    def visit_If(self, node: syntax.If, defined: set):
        ends = []
        for number, (condition, body) in enumerate(node.branches):
            code, _ = self.visit(condition, defined)
            self.emit(("if " if number == 0 else "elif ") + code + ":")
            ends.append(self.indented(body, defined))
        if node.otherwise is not None:
            self.emit("else:")
            ends.append(self.indented(node.otherwise, defined))
        else:
            ends.append(defined)
        live = [end for end in ends if end is not _TERMINATES]
        if not live:
            return _TERMINATES
        result = set(live[0])
        for end in live[1:]:
            result &= end
        return result | defined

    def tick(self, pos: str) -> None:
        self.emit("_it += 1")
        self.emit(f"if _it > {self.limit}: _over(_it, _L, {pos})")
        if self.is_async:
            # Hand control back to the host now and then, so a long computation in a
            # workflow is spread over several activations instead of stalling one.
            self.emit("if _st.calls >= _st.yield_at: await _yield(_host, _st)")

    def visit_While(self, node: syntax.While, defined: set):
        pos = _pos(node)
        self.enter_py_block(node)
        self.emit("while True:")
        self.depth += 1
        self.tick(pos)
        code, _ = self.visit(node.condition, defined)
        self.emit(f"if not {code}: break")
        self.block(node.body, set(defined))
        self.depth -= 1
        self.blocks -= 1
        return defined

    def visit_For(self, node: syntax.For, defined: set):
        pos = _pos(node)
        items, position = self.temp(), self.temp()
        code, _ = self.visit(node.iterable, defined)
        self.emit(f"{items} = _fiter({code}, {pos})")
        self.emit(f"{position} = 0")
        self.enter_py_block(node)
        self.emit("while True:")
        self.depth += 1
        self.tick(pos)
        self.emit(f"if {position} >= _len({items}): break")
        self.names.add(node.var)
        self.emit(f"v_{node.var} = {items}[{position}]")
        self.emit(f"{position} += 1")
        self.block(node.body, defined | {node.var})
        self.depth -= 1
        self.blocks -= 1
        return defined

    def visit_Try(self, node: syntax.Try, defined: set):
        self.enter_py_block(node, 2 if node.final is not None else 1)
        self.emit("try:")
        end_try = self.indented(node.body, defined)
        error = self.temp()
        self.emit(f"except _Exc as {error}:")
        self.depth += 1
        self.names.add(node.catch_var)
        self.emit(f"v_{node.catch_var} = _caught({error}, {_pos(node)})")
        self.depth -= 1
        end_catch = self.indented(node.catch_body, defined | {node.catch_var})
        self.depth += 0
        live = [end for end in (end_try, end_catch) if end is not _TERMINATES]
        after = set(live[0]).intersection(*live[1:]) if live else _TERMINATES
        if node.final is not None:
            self.emit("finally:")
            end_final = self.indented(node.final, defined)
            if end_final is _TERMINATES:
                after = _TERMINATES
            elif after is not _TERMINATES:
                after = after | end_final
        self.blocks -= 2 if node.final is not None else 1
        return after if after is _TERMINATES else after | defined

    def visit_IndexAssign(self, node: syntax.IndexAssign, defined: set):
        target = node.target
        value_node = node.value
        if node.op != "=":
            value_node = syntax.Binary(node.line, node.col, node.op[0], target, value_node)
        pos = _pos(node)
        value, container, key = self.temp(), self.temp(), self.temp()
        self.emit(f"{value} = {self.visit(value_node, defined)[0]}")
        self.emit(f"{container} = {self.visit(target.obj, defined)[0]}")
        self.emit(f"{key} = {self.visit(target.index, defined)[0]}")
        self.emit(f"if _type({container}) is _dict and _type({key}) is _str: {container}[{key}] = {value}")
        self.emit(f"else: _setidx({container}, {key}, {value}, {pos})")
        return defined

    def visit_FieldAssign(self, node: syntax.FieldAssign, defined: set):
        target = node.target
        value_node = node.value
        if node.op != "=":
            value_node = syntax.Binary(node.line, node.col, node.op[0], target, value_node)
        path = []
        base = target
        while type(base) is syntax.Field:
            path.append(base.name)
            base = base.obj
        path.reverse()
        pos = _pos(node)
        value = self.temp()
        self.emit(f"{value} = {self.visit(value_node, defined)[0]}")
        if type(base) is not syntax.Var:
            self.emit(f"_badbase({pos})")
            return defined
        root, _ = self.var(base.name, node.line, node.col, defined)
        self.emit(f"_setfld({root}, {tuple(path)!r}, {value}, {pos})")
        return defined

    # -- expressions ------------------------------------------------------------------

    # Expressions: each ``visit_`` returns the Python source of the node and whether it
    # is a cheap, side-effect-free name.

    def visit(self, node, defined):
        return self._visits[type(node)](self, node, defined)

    def generic_visit(self, node, *args):
        what = "statement" if isinstance(node, syntax.STATEMENTS) else "expression"
        raise CompilerError(f"Unsupported {what} {type(node).__name__}", node.line, node.col)

    def visit_Var(self, node: syntax.Var, defined) -> tuple[str, bool]:
        return self.var(node.name, node.line, node.col, defined)

    def visit_Literal(self, node: syntax.Literal, defined) -> tuple[str, bool]:
        return self.literal(node.value), True

    def visit_Field(self, node: syntax.Field, defined) -> tuple[str, bool]:
        # A chain ``a.b.c`` is built in a loop, innermost first: no recursion per field.
        names = []
        while type(node) is syntax.Field:
            names.append(node.name)
            node = node.obj
        code, simple = self.visit(node, defined)
        for field in reversed(names):
            bound, ref = self.bind(code, simple)
            name = repr(field)
            code, simple = f"({ref}.get({name}) if _type({bound}) is _dict else _fld({ref}, {name}))", False
        return code, simple

    def visit_Interp(self, node: syntax.Interp, defined) -> tuple[str, bool]:
        values = [self.visit(value, defined)[0] for value in node.values]
        parts = tuple(
            part if type(part) is str else (part.slot, part.hint) for part in node.parts
        )
        packed = "(" + "".join(v + ", " for v in values) + ")"
        return f"_render({packed}, {self.const(parts)}, _MODE, _TAG, _L, {_pos(node)}, _st)", False

    def visit_ListLit(self, node: syntax.ListLit, defined) -> tuple[str, bool]:
        return "[" + ", ".join(self.visit(item, defined)[0] for item in node.items) + "]", False

    def visit_DictLit(self, node: syntax.DictLit, defined) -> tuple[str, bool]:
        pairs = []
        for key, value in node.pairs:
            key_code, _ = self.visit(key, defined)
            if type(key) is not syntax.Literal:
                key_code = f"_key({key_code})"
            pairs.append(f"{key_code}: {self.visit(value, defined)[0]}")
        return "{" + ", ".join(pairs) + "}", False

    def visit_IfExpr(self, node: syntax.IfExpr, defined) -> tuple[str, bool]:
        code = self.visit(node.otherwise, defined)[0]
        for condition, value in reversed(node.branches):
            code = f"{self.visit(value, defined)[0]} if {self.visit(condition, defined)[0]} else {code}"
        return f"({code})", False

    def var(self, name: str, line: int, col: int, defined) -> tuple[str, bool]:
        self.names.add(name)
        if not _IDENTIFIER.match(name):
            pos = (line, col)
            return f"(_vars[{name!r}] if _vars and {name!r} in _vars else _undef({name!r}, {pos!r}))", False
        local = f"v_{name}"
        if defined is not _TERMINATES and name in defined:
            return local, True
        return f"({local} if {local} is not _U else _undef({name!r}, {(line, col)!r}))", False

    def literal(self, value: Any) -> str:
        if value is None or value is True or value is False:
            return repr(value)
        kind = type(value)
        if kind is int and -(10**18) < value < 10**18:
            return repr(value) if value >= 0 else f"({value!r})"
        if kind is float and math.isfinite(value):
            return repr(value) if value >= 0 else f"({value!r})"
        if kind is str and len(value) < 10_000:
            return repr(value)
        return self.const(value)

    def bind(self, code: str, simple: bool) -> tuple[str, str]:
        if simple:
            return code, code
        name = self.temp()
        return f"({name} := {code})", name

    def visit_Binary(self, node: syntax.Binary, defined) -> tuple[str, bool]:
        spine = [node]
        while type(spine[-1].left) is syntax.Binary:
            spine.append(spine[-1].left)
        if len(spine) <= _MAX_CHAIN:
            left, left_simple = self.visit(node.left, defined)
            return self.binary_step(node, left, left_simple, defined), False
        # Long left-deep chains become a flat tuple of temporaries, evaluated in order.
        base = spine.pop()
        code, simple = self.visit(base.left, defined)
        steps = []
        while True:
            name = self.temp()
            steps.append(f"({name} := {self.binary_step(base, code, simple, defined)})")
            code, simple = name, True
            if not spine:
                break
            base = spine.pop()
        return "(" + ", ".join(steps) + ")[-1]", False

    def binary_step(self, node: syntax.Binary, left: str, left_simple: bool, defined) -> str:
        op = node.op
        right, right_simple = self.visit(node.right, defined)
        pos = _pos(node)
        if op == "==" or op == "!=":
            a_bind, a = self.bind(left, left_simple)
            b_bind, b = self.bind(right, right_simple)
            scalar = f"(_type({a_bind}) not in _CONT) | (_type({b_bind}) not in _CONT)"
            negate = "not " if op == "!=" else ""
            return f"({a} {op} {b} if {scalar} else {negate}_eq({a}, {b}, {pos}))"
        if op == "in":
            return f"_in({left}, {right}, {pos})"
        if op == "/":
            return f"_div({left}, {right}, {pos})"
        a_bind, a = self.bind(left, left_simple)
        b_bind, b = self.bind(right, right_simple)
        both_int = f"_type({a_bind}) is _type({b_bind}) is _int"
        if op == "+":
            return f"({a} + {b} if {both_int} else _add({a}, {b}, {pos}, _L, _st))"
        if op == "-":
            return f"({a} - {b} if {both_int} else _sub({a}, {b}, {pos}, _L))"
        if op == "*":
            product = self.temp()
            return (
                f"({product} if {both_int} and -_BIG < ({product} := {a} * {b}) < _BIG "
                f"else _mul({a}, {b}, {pos}, _L))"
            )
        if op == "%":
            return f"({a} % {b} if {both_int} and {b} else _mod({a}, {b}, {pos}))"
        helper = _COMPARE_HELPERS[op]
        return f"({a} {op} {b} if {both_int} else {helper}({a}, {b}, {pos}))"

    def visit_Logical(self, node: syntax.Logical, defined) -> tuple[str, bool]:
        codes = [self.visit(operand, defined)[0] for operand in node.operands]
        if node.op == "and":
            return "(" + " and ".join(codes) + ")", False
        if node.op == "or":
            return "(" + " or ".join(codes) + ")", False
        code = codes[-1]
        for operand in reversed(codes[:-1]):
            name = self.temp()
            code = f"({name} if ({name} := {operand}) is not None else {code})"
        return code, False

    def visit_Unary(self, node: syntax.Unary, defined) -> tuple[str, bool]:
        if node.op == "not":
            return f"(not {self.visit(node.operand, defined)[0]})", False
        operand = node.operand
        if type(operand) is syntax.Literal and type(operand.value) in (int, float):
            value = -operand.value if node.op == "-" else operand.value
            return self.literal(value), False
        code, simple = self.visit(operand, defined)
        bound, ref = self.bind(code, simple)
        op = node.op
        return f"({op}{ref} if _type({bound}) is _int else _unary({op!r}, {ref}, {_pos(node)}))", False

    def visit_Index(self, node: syntax.Index, defined) -> tuple[str, bool]:
        obj, obj_simple = self.visit(node.obj, defined)
        key, key_simple = self.visit(node.index, defined)
        obj_bind, o = self.bind(obj, obj_simple)
        key_bind, k = self.bind(key, key_simple)
        pos = _pos(node)
        return (
            f"(None if {obj_bind} is None else "
            f"{o}.get({k}) if _type({key_bind}) is _str and _type({o}) is _dict else "
            f"{o}[{k}] if _type({k}) is _int and _type({o}) is _list and -_len({o}) <= {k} < _len({o}) else "
            f"_idx({o}, {k}, {pos}))"
        ), False

    def visit_Call(self, node: syntax.Call, defined) -> tuple[str, bool]:
        args = [self.visit(arg, defined)[0] for arg in node.args]
        kwargs = [(name, self.visit(value, defined)[0]) for name, value in node.kwargs]
        packed_args = "(" + "".join(a + ", " for a in args) + ")"
        packed_kwargs = "{" + ", ".join(f"{name!r}: {code}" for name, code in kwargs) + "}"
        if node.spec is None:
            return f"_stub(*{packed_args}, **{packed_kwargs})", False
        caller = rt.ToolCaller(
            node.spec,
            node.name,
            self.globals_limits(),
            binding_error=rt.binding_error(node.spec.params, len(args), [n for n, _ in kwargs]),
        )
        name = f"_T{len(self.tools)}"
        self.tools[len(self.tools)] = name
        self.globals[name] = caller
        call = f"{name}.call(_host, _st, {_pos(node)}, {packed_args}, {packed_kwargs})"
        if self.is_async and (not caller.inline or node.spec.is_async):
            return f"(await {name}.call_async(_host, _st, {_pos(node)}, {packed_args}, {packed_kwargs}))", False
        if self.is_async:
            return f"(_st.calls < _st.yield_at or await _ybefore(_host, _st), {call})[1]", False
        return call, False

    def globals_limits(self) -> rt.Limits:
        return rt.Limits(
            self.options.max_iterations,
            self.options.max_operations,
            self.options.max_value_size,
            self.options.max_int_bits,
            self.options.max_call_operations,
        )

    def visit_Comprehension(self, node: syntax.Comprehension, defined) -> tuple[str, bool]:
        items = self.temp()
        element_var = self.temp()
        iterable, _ = self.visit(node.iterable, defined)
        inner = (defined | {node.var}) if defined is not _TERMINATES else {node.var}
        self.names.add(node.var)
        element, _ = self.visit(node.element, inner)
        clauses = (
            f"for {element_var} in {items} "
            f"if (_it := _it + 1) <= {self.limit} or _over(_it, _L, (0, 0)) "
            f"if (v_{node.var} := {element_var}) is {element_var}"
        )
        if node.condition is not None:
            clauses += f" if {self.visit(node.condition, inner)[0]}"
        return f"(({items} := _citer({iterable})), [{element} {clauses}])[1]", False


def _pos(node) -> str:
    return f"({node.line}, {node.col})"


def compile_function(program: syntax.Program, options: CyOptions, *, is_async: bool):
    """Generate, compile and return the program's main function."""
    generator = CodeGenerator(program, options, is_async=is_async)
    source, extra = generator.generate()
    namespace = base_globals(options)
    namespace.update(extra)
    try:
        code = compile(source, "<cy>", "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        raise CompilerError(f"Program too complex to compile: {exc}", 0, 0) from None
    exec(code, namespace)
    return namespace["_cy_main"], source
