"""The optional static type check (check_types)."""

from __future__ import annotations

import pytest

from cy import CyOptions, check_script, compile_script
from cy.errors import CyTypeError

TYPED = CyOptions(check_types=True)


def type_error(source, input=None, variables=None) -> CyTypeError:
    with pytest.raises(CyTypeError) as info:
        compile_script(source, options=TYPED).run(input=input, variables=variables)
    return info.value


def test_reports_every_problem_in_one_error():
    exc = type_error('error1 = 5 + "text"\nerror2 = "hello" - 10\nreturn 1')
    assert exc.type == "TypeError"
    assert exc.message.startswith("Type validation failed:\nLine 1: cannot add number and string.")
    assert "Line 2:" in exc.message


@pytest.mark.parametrize(
    "source, message",
    [
        ('count = len([1])\nreturn "Count: " + count', "cannot add string and number. Operator '+' requires compatible types."),
        ("return undefined_thing", "Undefined variable 'undefined_thing'"),
        ("x = 5\nreturn x.field", "cannot access field 'field' on number. Field access requires an object."),
        ('items = ["a"]\nfirst = items[0]\nreturn "First: " + first', "cannot add nullable types. Use ?? operator"),
        ("return uppercase(5)", "parameter 'text' expects string, got number."),
        ('return split("a", nope=1)', "Unknown parameter 'nope'."),
    ],
)
def test_type_errors(source, message):
    assert message in type_error(source).message


def test_well_typed_programs_run():
    ok = [
        ('count = len([1, 2])\nreturn "Count: " + str(count)', "Count: 2"),
        ('if (5) { return "yes" }\nreturn "no"', "yes"),
        ('user = {"name": "A"}\nreturn user.email', None),
        ('items = ["a"]\nreturn "First: " + (items[0] ?? "")', "First: a"),
        ("return threshold + 1", 51),
    ]
    for source, expected in ok:
        assert compile_script(source, options=TYPED).run(variables={"threshold": 50}).value == expected


def test_input_fields_are_nullable():
    with pytest.raises(CyTypeError):
        compile_script('return input.ip + "x"', options=TYPED)
    program = compile_script("return input + 1", options=TYPED)
    assert program.run(input=2).value == 3
    with pytest.raises(CyTypeError):
        program.run(input="text")
    assert compile_script('return (input.ip ?? "") + "x"', options=TYPED).run(input={"ip": "a"}).value == "ax"


def test_untyped_tools_accept_anything():
    from cy.natives import default_registry

    reg = default_registry()
    reg.register("app::http::fetch", lambda url, timeout=30: url)
    program = compile_script('return app::http::fetch(url=123, timeout="slow")', reg, TYPED)
    assert program.run().value == 123


def test_check_script_reports_type_errors_without_variables():
    errors = check_script('return 1 + "a"', options=TYPED)
    assert [e.type for e in errors] == ["TypeError"]
    assert check_script("return injected + 1", options=TYPED) == []
