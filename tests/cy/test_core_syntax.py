"""Scanner and parser: lexical rules, contextual keywords, syntax-error positions and hints."""

from __future__ import annotations

import pytest

from cy import CyOptions, check_script, compile_script
from cy.errors import CySyntaxError


def run(source: str, **kwargs):
    return compile_script(source).run(**kwargs).value


def syntax_error(source: str, **options) -> CySyntaxError:
    with pytest.raises(CySyntaxError) as info:
        compile_script(source, options=CyOptions(**options) if options else None)
    return info.value


def test_comments_and_free_whitespace():
    assert run("# c\nx = 1  # trailing\nreturn x # done") == 1
    assert run("x = 1 y = 2 return x + y") == 3
    assert run("x = [1, # one\n 2]\nreturn x") == [1, 2]
    assert run('return "a#b"') == "a#b"


def test_number_literals():
    assert run("return [007, 1.5, 10]") == [7, 1.5, 10]
    assert type(run("return 2.0")) is float
    assert run("return 99999999999 * 99999999999") == 99999999999 * 99999999999


@pytest.mark.parametrize(
    "source, line, col",
    [
        ("// comment\nreturn 1", 1, 1),
        ('age = 25; name = "Bob"\nreturn age', 1, 9),
        ("_x = 1\nreturn _x", 1, 1),
        ("return 1.", 1, 9),
        ("return .5", 1, 8),
        ("return 1e3", 1, 9),
        ("if = 3\nreturn 1", 1, 4),
        ("a = True\nb = a && a\nreturn b", 2, 7),
        ("a = True\nreturn !a", 2, 8),
        ("x = 1\nif (x = 10) { }\nreturn 1", 2, 7),
        ("return join(items: [1])", 1, 18),
        ("return {'a': 1}", 1, 9),
        ('return "a" "b"', 1, 12),
        ("return 1 not in [1]", 1, 14),
        ('obj = {}\nreturn obj["user"].data', 2, 19),
        ('t = "x"\np = t.split(",")\nreturn p', 2, 12),
        ("x = if (True) { 1 }\nreturn x", 2, 1),
        ("x = 1\nreturn", 2, 1),
        ("return [x for x in [1, 2]]", 1, 15),
        ("try { x = 1 } finally { x = 2 }\nreturn x", 1, 15),
        ("café = 1\nreturn 1", 1, 4),
        ("return a::b::c::d()", 1, 15),
        ('return regex_match(r"\\d+", "a")', 1, 21),
        ('e = {}\nreturn e._time', 2, 10),
        ("x = 5\nelse {\n}\nreturn x", 2, 6),
        ("x = 5\nif (x > 10) {\n} else if (x > 5) {\n}\nreturn 1", 3, 8),
        ("x = 5\nif (x > 0) {\n    return x\n# missing brace", 3, 12),
        ("x = 1\nx == 2\nreturn x", 2, 4),
        ("result = x if x > 0 else 0\nreturn result", 1, 15),
    ],
)
def test_syntax_error_positions(source, line, col):
    error = syntax_error(source)
    assert (error.line, error.column) == (line, col), error.message


def test_python_idiom_hints():
    assert "Python-style if statement" in syntax_error("x = 5\nif x > 3:\n    y = 1\nreturn 1").message
    assert "function definition" in syntax_error("def f(x):\n    return x\nreturn 1").message
    assert "Dollar signs ($)" in syntax_error("$name = 1\nreturn name").message
    assert "Dollar signs ($)" in syntax_error("x = 1\nreturn $x").message
    assert "Mixed bracket and dot" in syntax_error('o = {}\nreturn o["a"].b').message
    assert "floor division" in syntax_error("x = 7 // 2\nreturn x").message
    assert "exponentiation" in syntax_error("x = 2 ** 3\nreturn x").message
    assert "f-strings" in syntax_error('x = f"a{b}"\nreturn x').message
    assert "lambda" in syntax_error("f = lambda x: x\nreturn 1").message
    assert "Tuple unpacking" in syntax_error("a, b = 1, 2\nreturn a").message
    assert "else if" in syntax_error("if (1) {\n} else if (2) {\n}\nreturn 1").message
    assert "not not" in syntax_error("return not not True").message


def test_keywords_are_contextual():
    assert run('a = {"if": 1, "True": 2}\nreturn [a.if, a.True]') == [1, 2]
    assert run("x = {}\nx.for = 3\nreturn x") == {"for": 3}
    assert run("return not 1 == 2") is True
    assert run("return not 5 in [1, 2]") is True


def test_reserved_assignments_are_compile_errors():
    for name in ("True", "False", "null", "None", "true", "false"):
        errors = check_script(f"{name} = 1\nreturn 1")
        assert errors and errors[0].type == "CompilerError"
        assert f"Cannot assign to reserved literal '{name}'" in errors[0].message


def test_nesting_depth_is_a_clean_syntax_error():
    deep = "return " + "(" * 150 + "1" + ")" * 150
    error = syntax_error(deep)
    assert "Nesting too deep" in error.message
    assert compile_script("return " + "(" * 50 + "1" + ")" * 50).run().value == 1
    blocks = "x = 1\n" + "if (x) {\n" * 120 + "}\n" * 120 + "return x"
    assert "Nesting too deep" in syntax_error(blocks).message
    unary = "return " + "- " * 500 + "1"
    assert "Nesting too deep" in syntax_error(unary).message


def test_max_nesting_depth_option():
    source = "return " + "[" * 12 + "]" * 12
    assert syntax_error(source, max_nesting_depth=10).message.startswith("Nesting too deep")
    assert compile_script(source, options=CyOptions(max_nesting_depth=20)).run().value


def test_literals_cannot_be_indexed():
    for source in ("return [1, 2][0]", 'return {"a": 1}["a"]', 'return "abc"[0]'):
        assert syntax_error(source).type == "SyntaxError"


def test_call_argument_shapes():
    assert syntax_error("return join(separator=',', [1])").type == "SyntaxError"
    assert syntax_error("return len([1],)").type == "SyntaxError"
    assert run("return join([1, 2], separator='-')") == "1-2"


def test_strings_and_escapes():
    assert run("return 'it\\'s'") == "it\\'s"
    assert run('return "a\\nb\\t\\"q\\" \\\\ \\u0041 \\d"') == 'a\nb\t"q" \\ \\u0041 \\d'
    assert run("return '${x}'") == "${x}"
    assert run('return """say "hi"\nthere"""') == 'say "hi"\nthere'
    assert run('return "line1\nline2"') == "line1\nline2"
    assert run('return "\\$x \\{y\\}"') == "$x {y}"


def test_check_script_collects_every_error():
    errors = check_script("len = 1\nsum = 2\nx = nope()\nreturn input")
    assert [e.type for e in errors] == ["CompilerError", "CompilerError", "ToolResolutionError"]
    assert check_script("return 1") == []
    assert [e.type for e in check_script("return (")] == ["SyntaxError"]


def test_parse_speed_of_a_200_line_script():
    import time

    lines = []
    for i in range(100):
        lines.append(f"x{i} = {i} + y * 2")
        lines.append(f'if (x{i} > 3) {{ z = "a${{x{i}}}" }}')
    source = "y = 1\n" + "\n".join(lines) + "\nreturn z"
    best = min(_timed(lambda: check_script(source)) for _ in range(5))
    assert best < 0.02


def _timed(fn):
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
