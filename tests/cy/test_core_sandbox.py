"""Sandbox and resource limits: scripts cannot reach Python, and cannot exhaust the host."""

from __future__ import annotations

import time

import pytest

from cy import CyOptions, compile_script
from cy.errors import CyError, LimitExceeded


def run(source, variables=None, **options):
    return compile_script(source, options=CyOptions(**options) if options else None).run(variables=variables).value


def error(source, **options) -> CyError:
    with pytest.raises(CyError) as info:
        run(source, **options)
    return info.value


@pytest.mark.parametrize(
    "source",
    [
        "return __class__",
        "x = {}\nreturn x.__class__",
        "return _builtins",
        "x = 1\nreturn x._private",
        "import os\nreturn 1",
        "return __import__('os')",
    ],
)
def test_python_names_are_not_syntax(source):
    assert error(source).type == "SyntaxError"


@pytest.mark.parametrize("name", ["eval", "exec", "open", "getattr", "globals", "compile", "print", "type", "object"])
def test_python_builtins_are_not_tools(name):
    exc = error(f'return {name}("1")')
    assert exc.type == "ToolResolutionError"
    assert error(f"return {name}").type == "NameError"


def test_dunder_keys_and_fields_stay_data():
    assert run('d = {"__class__": 1, "__builtins__": 2}\nreturn [d["__class__"], d["__builtins__"]]') == [1, 2]
    assert error('s = "x"\nreturn s["__class__"]').type == "InterpolationError"
    assert error('e = 5\nreturn e["__class__"]').message == "Cannot index object of type int"
    assert run('x = 1\nreturn "${x.__class__}"') == "null"
    assert run('v = {"a": 1}\nreturn "${v.__class__} ${v.__dict__}"') == "null null"


def test_interpolation_cannot_reach_python():
    assert error('return "${__import__}"').type == "NameError"
    assert error('return "${eval(\'1\')}"').type in ("ToolResolutionError", "SyntaxError")
    assert error('return "${_U}"').type == "NameError"
    assert error('return "${_vars}"').type == "NameError"
    assert error('return "${_host}"').type == "NameError"


def test_generated_names_cannot_collide_with_helpers():
    assert run("v_x = 1\nt1 = 2\nK0 = 3\nU = 4\nreturn [v_x, t1, K0, U]") == [1, 2, 3, 4]
    assert run('x = "\'); import os; (\'"\nreturn x') == "'); import os; ('"
    assert run('d = {"\\")\\nimport os\\n": 1}\nreturn d') == {'")\nimport os\n': 1}


def test_variables_with_odd_names_are_plain_data():
    assert run('return "${_secret}"', variables={"_secret": "v"}) == "v"
    assert run("return input", variables={"__builtins__": {"open": 1}}) is None


def test_runaway_loops_stop():
    start = time.perf_counter()
    exc = error("while (True) { }\nreturn 1")
    assert exc.type == "RuntimeError" and "maximum total iterations (100000)" in exc.message
    assert time.perf_counter() - start < 2
    exc = error("x = 0\nwhile (True) { x += 1 }\nreturn 1", max_iterations=10**9, max_operations=50_000)
    assert isinstance(exc, LimitExceeded)


def test_iteration_limit_is_catchable_but_operation_limit_is_not():
    assert run("try { while (True) { } } catch (e) { r = \"caught\" }\nreturn r") == "caught"
    with pytest.raises(LimitExceeded):
        run("try { while (True) { } } catch (e) { r = 1 }\nreturn r", max_iterations=10**9, max_operations=1000)


def test_value_size_limits():
    exc = error('s = "ab"\nwhile (True) { s = s + s }\nreturn s', max_value_size=10_000)
    assert isinstance(exc, LimitExceeded) and "too large" in exc.message
    exc = error("l = [1]\nwhile (True) { l += l }\nreturn l", max_value_size=10_000)
    assert isinstance(exc, LimitExceeded)
    exc = error('s = "ab"\ni = 0\nwhile (i < 20) { s = "${s}${s}" i += 1 }\nreturn s', max_value_size=10_000)
    assert isinstance(exc, LimitExceeded)
    assert isinstance(error("return range(100000000)"), LimitExceeded)
    with pytest.raises(LimitExceeded):
        run('try { s = "ab"\nwhile (True) { s = s + s } } catch (e) { }\nreturn 1', max_value_size=1000)


def test_integer_size_limit():
    exc = error("x = 2\nwhile (True) { x = x * x }\nreturn x")
    assert isinstance(exc, LimitExceeded) and "Integer too large" in exc.message
    assert run("x = 2\ni = 0\nwhile (i < 10) { x = x * x i += 1 }\nreturn x > 0") is True


def test_tool_call_budget():
    with pytest.raises(LimitExceeded):
        run("while (True) { len([1]) }\nreturn 1", max_iterations=10**9, max_operations=10_000)


def test_deeply_nested_values_do_not_crash_the_host():
    source = "a = []\ni = 0\nwhile (i < 50000) { a = [a] i += 1 }\nb = str(a)\nreturn 1"
    with pytest.raises(CyError):
        run(source)


def test_deep_nesting_of_loops_is_a_compile_error():
    source = "x = 0\n" + "while (x < 1) {\n" * 25 + "x += 1\n" + "}\n" * 25 + "return x"
    exc = error(source)
    assert exc.type == "CompilerError" and "nested too deeply" in exc.message


def test_long_operator_chains():
    assert run("return " + " + ".join(["1"] * 400)) == 400
    assert run("x = 1\nreturn " + " and ".join(["x"] * 300)) == 1
