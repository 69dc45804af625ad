"""Operators, values, assignment, control flow, comprehensions, try/catch and interpolation."""

from __future__ import annotations

import pytest

from cy import CyOptions, compile_script
from cy.errors import CyError


def run(source: str, input=None, variables=None, **options):
    program = compile_script(source, options=CyOptions(**options) if options else None)
    return program.run(input=input, variables=variables).value


def error(source: str, input=None, **options) -> CyError:
    with pytest.raises(CyError) as info:
        run(source, input=input, **options)
    return info.value


def same(value, expected):
    """Equality that tells 1, 1.0 and True apart."""
    assert type(value) is type(expected), (value, expected)
    assert value == expected


# -- arithmetic -------------------------------------------------------------------------


def test_arithmetic_types():
    same(run("return 6 / 2"), 3.0)
    same(run("return 7 % 3"), 1)
    same(run("return -7 % 3"), 2)
    same(run("return 7 % -3"), -2)
    same(run("return 7.5 % 2"), 1.5)
    same(run("return 1 + 2.0"), 3.0)
    same(run("return True + 1"), 2)
    same(run("return 2 * 3"), 6)
    same(run("return 0.1 + 0.2"), 0.30000000000000004)
    assert run('return ["a"] + ["b"]') == ["a", "b"]
    assert run('return "ab" + "cd"') == "abcd"


def test_numeric_string_coercion():
    same(run('return "3" - 1'), 2)
    same(run('return "3" * 2'), 6)
    same(run('return "-3" - 1'), -4)
    same(run('return "2.5" * 2'), 5.0)
    same(run('return -"5"'), -5)
    same(run('return +"5.5"'), 5.5)
    same(run('return "9" / "3"'), 3.0)


@pytest.mark.parametrize(
    "source, kind, message, line, col",
    [
        ("return 10 / 0", "RuntimeError", "Division by zero", 1, 8),
        ("return 10 % 0", "RuntimeError", "Modulo by zero", 1, 8),
        ('return "3" + 1', "RuntimeError", "Cannot use + operator with str and int. Both operands must be the same type (both numbers, both strings, or both lists)", 1, 8),
        ("x = null\nreturn x + 1", "RuntimeError", "Cannot use + operator with NoneType and int", 2, 8),
        ("return [1] * 2", "RuntimeError", "Arithmetic operation requires numeric operands, got list and int", 1, 8),
        ('return "abc" - 1', "RuntimeError", "Arithmetic operation requires numeric operands, got str and int", 1, 8),
        ('x = "hello"\nreturn -x', "RuntimeError", "Unary minus requires a numeric operand, got str", 2, 8),
        ('return -"-3"', "RuntimeError", "Unary minus requires a numeric operand, got str", 1, 8),
        ('return "10" > 9', "RuntimeError", "Cannot compare str and int: '>' not supported between instances of 'str' and 'int'", 1, 8),
        ("return null < 1", "RuntimeError", "Cannot compare NoneType and int", 1, 8),
        ("return 1 in null", "RuntimeError", "'in' requires a list, dictionary, or string on the right side, got NoneType", 1, 8),
        ("a = 1\nb = 2\nc = a + zz\nreturn c", "NameError", "Variable 'zz' is not defined", 3, 9),
        ("x = 1\ny = (x + 1) / (x - 1)\nreturn y", "RuntimeError", "Division by zero", 2, 5),
    ],
)
def test_runtime_errors(source, kind, message, line, col):
    exc = error(source)
    assert exc.type == kind
    assert message in exc.message
    assert (exc.line, exc.column) == (line, col)


def test_big_integers_are_exact():
    assert run("return 99999999999 * 99999999999") == 99999999999 * 99999999999
    assert run("x = 2\ni = 0\nwhile (i < 6) { x = x * x i += 1 }\nreturn x") == 2**64


# -- boolean operators and comparisons -----------------------------------------------


def test_boolean_operators_return_operands():
    assert run("return 0 or 5") == 5
    assert run("return 1 and 0") == 0
    assert run('return null or ""') == ""
    assert run("return null ?? 0 ?? 5") == 0
    assert run("return null ?? null") is None
    assert run("return null ?? 1 + 1") == 2
    assert run("return 1 or 2 ?? 3") == 1
    assert run('return null ?? False or "x"') == "x"
    assert run("return False and undefined_var") is False
    assert run("return True or undefined_var") is True
    assert run("return not []") is True


def test_comparisons():
    assert run("return [1 == 1.0, True == 1, [1, 2] == [1, 2], 1 == \"1\", null == null]") == [True, True, True, False, True]
    assert run('return {"a": 1, "b": 2} == {"b": 2, "a": 1}') is True
    assert run('return ["10" < "9", "Z" < "a", [1, 2] < [1, 3]]') == [True, True, True]
    assert run("return [1 < 2 < 3, 3 > 2 > 1, 1 < 2 == True]") == [True, False, True]
    assert run('return [1 in [1, 2], "a" in {"a": 1}, 1 in {"1": 2}, "ell" in "hello"]') == [True, True, False, True]
    same(run("return 2.5 <= 2.5"), True)


def test_truthiness():
    source = 'out = []\nfor (v in [null, False, 0, 0.0, "", [], {}, " ", [0], "0", "False"]) { out += [if (v) { 1 } else { 0 }] }\nreturn out'
    assert run(source) == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]


# -- fields and indexes ---------------------------------------------------------------


def test_null_safe_access():
    assert run("a = {}\nreturn a.user.department.name") is None
    assert run('x = 5\ns = "s"\nl = [1]\nreturn [x.y, s.length, l.a]') == [None, None, None]
    assert run("l = [1, 2]\nreturn [l[0], l[-1], l[5], l[-3]]") == [1, 2, None, None]
    assert run('d = {"1": "one", "True": "t", "2.5": "f"}\nreturn [d[1], d[True], d[2.5], d["x"]]') == ["one", "t", "f", None]
    assert run("n = null\nreturn n[undefined_thing]") is None
    assert run('s = "héllo"\nreturn [s[1], s[-1]]') == ["é", "o"]
    assert run('return from_json("{\\"a\\": [1, {\\"b\\": 2}]}").a[1]["b"]') == 2


@pytest.mark.parametrize(
    "source, message, line, col",
    [
        ('s = "abc"\nreturn s[5]', "Index out of range: string index out of range", 2, 8),
        ('x = [1, 2]\nreturn x["a"]', "List index must be an integer, got str", 2, 8),
        ("x = 5\nreturn x[0]", "Cannot index object of type int", 2, 8),
        ("d = {}\nreturn d[null]", "Dictionary key must be string or number, got NoneType", 2, 8),
        ('s = "abc"\nreturn s["a"]', "String index must be an integer, got str", 2, 8),
        ('return [len([1])[0] ?? "n/a"]', "Cannot index object of type int", 1, 9),
    ],
)
def test_index_errors(source, message, line, col):
    exc = error(source)
    assert exc.type == "InterpolationError" and message in exc.message
    assert (exc.line, exc.column) == (line, col)


# -- assignment -----------------------------------------------------------------------


def test_assignment_forms():
    assert run('a = {}\na.enrichment.geo.country = "US"\nreturn a') == {"enrichment": {"geo": {"country": "US"}}}
    assert run('a = {"x": {"k": 1}}\na.x.y = 2\nreturn a') == {"x": {"k": 1, "y": 2}}
    assert run('d = {}\nd["a"] = 1\nd[2] = "two"\nreturn d') == {"a": 1, "2": "two"}
    assert run("l = [1, 2, 3]\nl[-1] = 9\nl[0] += 10\nreturn l") == [11, 2, 9]
    assert run("x = 1\nx += 2\nx *= 3\nx -= 1\nx /= 2\nreturn x") == 4.0
    assert run('s = "a"\ns += "b"\nreturn s') == "ab"
    assert run("l = [1]\nl += [2]\nreturn l") == [1, 2]
    assert run('d = {"n": 1}\nd.n += 1\nd["n"] *= 10\nreturn d') == {"n": 20}
    assert run("a = [1]\nb = a\nb[0] = 9\nreturn a") == [9]
    assert run("a = [1]\nb = a + []\nb[0] = 9\nreturn a") == [1]


@pytest.mark.parametrize(
    "source, kind, message, line, col",
    [
        ('x = 5\nx += "a"\nreturn x', "RuntimeError", "Cannot use + operator with int and str", 2, 1),
        ("y += 1\nreturn y", "NameError", "Variable 'y' is not defined", 1, 1),
        ('s = "a"\ns *= 3\nreturn s', "RuntimeError", "Arithmetic operation requires numeric operands, got str and int", 2, 1),
        ("x = 42\nx.y = 5\nreturn x", "RuntimeError", "Cannot assign field 'y' to int. Field assignment only works on dictionaries.", 2, 1),
        ("ghost.x = 1\nreturn 1", "NameError", "Variable 'ghost' is not defined", 1, 1),
        ("l = [1, 2, 3]\nl[3] = 9\nreturn l", "InterpolationError", "Index out of range", 2, 1),
        ('l = [1]\nl["a"] = 9\nreturn l', "InterpolationError", "List index must be an integer, got str", 2, 1),
        ('d = {}\nd["a"]["b"] = 1\nreturn d', "InterpolationError", "Cannot assign to index of type NoneType", 2, 1),
        ('s = "abc"\ns[0] = "x"\nreturn s', "InterpolationError", "Cannot assign to index of immutable type str", 2, 1),
        ("a = {}\na.n += 1\nreturn a", "RuntimeError", "Cannot use + operator with NoneType and int", 2, 1),
        ('a = {"x": 1}\na.x.y = 2\nreturn a', "RuntimeError", "Cannot assign field 'y' to int", 2, 1),
    ],
)
def test_assignment_errors(source, kind, message, line, col):
    exc = error(source)
    assert exc.type == kind and message in exc.message
    assert (exc.line, exc.column) == (line, col)


def test_assignment_evaluates_value_first():
    assert error('d = {}\nd["a"]["b"] = undefined_value\nreturn d').type == "NameError"


def test_input_and_variables():
    data = {"items": [1]}
    program = compile_script("input.items[0] = 5\ninput.extra = True\nreturn input")
    assert program.run(input=data).value is data
    assert data == {"items": [5], "extra": True}
    assert run("return input") is None
    variables = {"threshold": 50, "nested": {"a": [1]}}
    assert run("nested.a[0] = 2\nthreshold += 1\nreturn [threshold, nested]", variables=variables) == [51, {"a": [2]}]
    assert variables == {"threshold": 50, "nested": {"a": [1]}}
    assert run("return input", variables={"input": 5}) is None
    assert error("input = 1\nreturn 1").message == "Cannot reassign the input variable"


# -- control flow ---------------------------------------------------------------------


def test_if_elif_else_and_if_expression():
    source = 'x = {v}\nif (x > 10) {{ r = "big" }} elif (x > 5) {{ r = "mid" }} else {{ r = "small" }}\nreturn r'
    assert [run(source.format(v=v)) for v in (20, 7, 1)] == ["big", "mid", "small"]
    assert run("x = 5\nreturn (if (x > 3) { 10 } else { 20 }) + 5") == 15
    assert run('x = 1\nreturn {"k": if (x == 1) { "one" } elif (x == 2) { "two" } else { undefined_v }}') == {"k": "one"}
    assert run("if (True) { }\nreturn 1") == 1


def test_loops():
    assert run("t = 0\nfor (i in [1, 2, 3]) { t += i }\nreturn [t, i]") == [6, 3]
    assert run('out = []\nfor (k in {"b": 1, "a": 2}) { out += [k] }\nreturn out') == ["b", "a"]
    assert run('out = []\nfor (c in "héy") { out += [c] }\nreturn out') == ["h", "é", "y"]
    assert run("l = [1, 2]\nn = 0\nfor (x in l) { n += 1 if (n < 3) { l += [x] } }\nreturn [n, l]") == [2, [1, 2, 1, 2]]
    assert run("l = [1, 2, 3]\nout = []\nfor (x in l) { l = [] out += [x] }\nreturn out") == [1, 2, 3]
    assert run("i = 0\nwhile (True) { i += 1 if (i == 3) { continue } if (i > 5) { break } }\nreturn i") == 6
    assert run("out = []\nfor (i in range(5)) { if (i % 2 == 0) { continue } out += [i] }\nreturn out") == [1, 3]
    assert run("for (i in [1, 2]) { for (j in [1, 2]) { if (j == 2) { break } } }\nreturn [i, j]") == [2, 2]


def test_for_over_non_iterable():
    exc = error("x = 5\nfor (i in x) {\n}\nreturn 1")
    assert exc.type == "ToolInvocationError"
    assert exc.message == "Tool '__to_iterable' failed: Cannot iterate over int. for-in loops support lists, dicts, and strings only."
    assert (exc.line, exc.column) == (2, 1)


def test_return_ends_the_program_everywhere():
    assert run("for (i in [1, 2, 3]) { if (i == 2) { return i } }\nreturn 0") == 2
    assert run("try { return 1 } catch (e) { return 2 } finally { log(\"f\") }") == 1
    assert run("try { return 1 } catch (e) { } finally { return 3 }") == 3
    assert run("try { x = 1 / 0 } catch (e) { return 2 } finally { return 3 }") == 3


def test_program_without_executed_return():
    program = compile_script("x = 1\nfor (i in []) { return i }")
    outcome = program.run()
    assert outcome.returned is False and outcome.value is None
    assert compile_script("x = 1", options=CyOptions(validate_output=False)).run() == (False, None)


def test_return_coverage_rules():
    assert error("x = 5").message.startswith("No return statement found")
    exc = error('x = 1\nif (x > 0) { y = 1 } else { return "neg" }')
    assert exc.message.startswith("Conditional branch lacks return") and (exc.line, exc.column) == (0, 0)
    assert run("x = 1\nif (x > 0) { return 1 }\nreturn 2") == 1


def test_break_and_continue_placement():
    exc = error("break\nreturn 1")
    assert exc.type == "CompilerError" and exc.message == "'break' can only be used inside a loop"
    exc = error("for (i in [1]) {\n    try { x = 1 } catch (e) { y = 1 } finally { break }\n}\nreturn 1")
    assert exc.message == "'break' cannot be used inside a finally block" and (exc.line, exc.column) == (2, 49)
    assert error("continue\nreturn 1").message == "'continue' can only be used inside a loop"
    assert run("try { x = 1 } catch (e) { } finally { for (i in [1, 2]) { break } }\nreturn i") == 1


def test_iteration_budget():
    exc = error("out = []\nfor (i in range(5)) { out += [i] }\nreturn out", max_iterations=5)
    assert exc.type == "RuntimeError" and (exc.line, exc.column) == (2, 1)
    assert exc.message == "Execution exceeded maximum total iterations (5). Possible denial-of-service or runaway loop."
    assert run("return [i for(i in range(5))]", max_iterations=5) == [0, 1, 2, 3, 4]
    exc = error("a = [i for(i in range(3))]\nb = [i for(i in range(3))]\nreturn a + b", max_iterations=5)
    assert (exc.line, exc.column) == (0, 0)
    assert run("i = 0\nwhile (i < 4) { i += 1 }\nreturn i", max_iterations=5) == 4
    assert error("i = 0\nwhile (i < 5) { i += 1 }\nreturn i", max_iterations=5).type == "RuntimeError"


# -- comprehensions --------------------------------------------------------------------


def test_comprehensions():
    assert run("return [x * 2 for(x in [1, 2, 3]) if(x != 2)]") == [2, 6]
    assert run("x = 10\nr = [x for (x in [1, 2])]\nreturn [r, x]") == [[1, 2], 2]
    assert run("m = [[1, 2], [3]]\nreturn [[x * 10 for(x in row)] for(row in m)]") == [[10, 20], [30]]
    assert run('return [k for(k in {"a": 1, "b": 2})]') == ["a", "b"]
    assert run('return [c for(c in "ab")]') == ["a", "b"]
    assert error("return [break for(x in [1])]").message == "Variable 'break' is not defined"
    exc = error("return [x for(x in 5)]")
    assert exc.type == "TypeError" and "Cannot iterate over int" in exc.message
    assert run('try { r = [x for(x in 5)] } catch (e) { r = "${e}" }\nreturn r').startswith("Line 1, Col 1: Cannot iterate")


# -- try / catch ----------------------------------------------------------------------


def test_try_catch_finally():
    assert run('try { x = 1 / 0 } catch (e) { x = "${e}" }\nreturn x') == "Line 1, Col 11: Division by zero"
    assert run("try { x = 1 / 0 } catch (e) { }\nreturn [e.message, e.line, type_of(e), e == null, str(e)]") == [
        None,
        None,
        "unknown",
        False,
        "Line 1, Col 11: Division by zero",
    ]
    assert run("log(\"a\")\ntry { x = nope } catch (e) { x = 2 } finally { x = x * 10 }\nreturn x") == 20
    assert error("try { x = 5 } catch (e) { x = 1 }\nreturn e").type == "NameError"
    assert run("out = []\nfor (i in [1, 2, 3]) { try { if (i == 2) { continue } out += [i] } catch (e) { } }\nreturn out") == [1, 3]
    exc = error("try { x = 1 / 0 } catch (e) { y = 1 / 0 }\nreturn y")
    assert (exc.line, exc.column) == (1, 35)


def test_compile_errors_are_not_caught():
    exc = error('try { x = bogus_tool() } catch (e) { x = "caught" }\nreturn x')
    assert exc.type == "ToolResolutionError" and (exc.line, exc.column) == (1, 11)


def test_catch_binds_error_objects_usable_by_tools():
    assert run('try { x = int("abc") } catch (e) { x = str(e) }\nreturn x') == (
        "Line 1, Col 11: Cannot convert str to int: invalid literal for int() with base 10: 'abc'"
    )


# -- interpolation --------------------------------------------------------------------


def test_interpolation_forms():
    assert run('name = "Ann"\nreturn "Hi $name and ${name}!"') == "Hi Ann and Ann!"
    assert run('u = {"a": {"b": 1}}\nreturn "${u.a.b} ${u.a.c}"') == "1 null"
    assert run('l = [1, 2]\nreturn "${l[0]} ${l[0] + 1} ${l[0]+1} ${len(l)}"') == "1 2 1 2"
    assert run('x = null\nreturn "${x ?? \'n/a\'} ${x}"') == "n/a null"
    assert run('return "Price: $5 and $ alone ${}"') == "Price: $5 and $ alone ${}"
    assert run('x = 1\nreturn "a\\\\$x ${x}"') == "a\\$x 1"
    assert run('x = 1\nreturn "\\${x} $x"') == "${x} 1"
    assert run('d = {"key": 1}\nreturn """${d["key"]} ${d[\'key\']}"""') == "1 1"
    assert run('x = 2\nreturn """v=${\n  x * 2\n}"""') == "v=4"
    assert run('x = True\nreturn "${x} ${1.0} ${-x}"') == "True 1.0 -1"


def test_interpolation_formats():
    items = 'items = ["apple", "banana"]\n'
    assert run(items + 'return "${items}"') == "- apple\n- banana"
    assert run(items + 'return "${items|csv}"') == "apple,banana"
    assert run(items + 'return "${items|xml}"') == "  <item>apple</item>\n  <item>banana</item>"
    assert run(items + 'return "${items|json}"') == '["apple", "banana"]'
    assert run(items + 'return "${items | csv}"') == "['apple', 'banana']"
    assert run('r = [{"id": 1, "name": "alice"}]\nreturn "${r|csv}"') == "id,name\r\n1,alice"
    assert run(items + 'return "${items}"', interpolation_mode="csv") == "apple,banana"
    assert run(items + 'return "${items|xml}"', item_tag="fruit") == "  <fruit>apple</fruit>\n  <fruit>banana</fruit>"
    assert run('d = {"a": 1}\nreturn "${d}"', interpolation_mode="plain") == "{'a': 1}"


def test_interpolation_quirks_and_errors():
    exc = error('return "Hi $undefinedvar!"')
    assert exc.type == "NameError" and (exc.line, exc.column) == (1, 4)
    exc = error('return "N: ${null}"')
    assert exc.message == "Variable 'null' is not defined" and (exc.line, exc.column) == (1, 4)
    assert error('return "x=${[1, 2]}"').message == "Variable '[1, 2]' is not defined"
    exc = error("x = 5\nreturn \"x=${if (x > 3) { 'big' } else { 'small' }}\"")
    assert exc.type == "SyntaxError" and (exc.line, exc.column) == (1, 3)
    exc = error('x = 0\nreturn "a\n b ${1 / x}"')
    assert exc.type == "RuntimeError" and exc.line == 1


def test_dict_keys_may_interpolate():
    assert run('k = "a"\nreturn {"${k}1": 1, "b": 2, "${k}1": 3}') == {"a1": 3, "b": 2}
