"""Core and JSON natives: len, sum, conversions, type_of, log, range, __to_iterable, JSON."""

import math
import re
from datetime import datetime, timezone

import pytest

from cy.errors import CyRuntimeError
from cy.host import LocalHost
from cy.natives import default_registry

REGISTRY = default_registry()


def fn(name):
    return REGISTRY.resolve(name).fn


class Opaque:
    def __str__(self) -> str:
        return "Line 1, Col 11: Division by zero"




# -- len / sum ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["len", "str::len", "list::len", "dict::len", "native::tools::len"])
def test_len(name):
    length = fn(name)
    assert length("héllo") == 5
    assert length([1, 2, 3]) == 3
    assert length({"a": 1, "b": 2}) == 2
    assert length("") == 0
    assert [length(None), length(5), length(True), length(2.5)] == [0, 0, 0, 0]


@pytest.mark.parametrize("name", ["sum", "list::sum"])
def test_sum(name):
    total = fn(name)
    assert total([1, 2, 3, 4, 5]) == 15
    assert total([1.5, 2]) == 3.5
    assert isinstance(total([1, 2]), int)
    assert total([]) == 0
    assert total([True, True]) == 2
    assert [total(None), total([1, "a"]), total("abc"), total([[1]])] == [0, 0, 0, 0]


# -- conversions ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["str", "type::str"])
def test_str(name):
    to_str = fn(name)
    assert to_str(None) == "None"
    assert to_str(True) == "True"
    assert to_str(1.0) == "1.0"
    assert to_str(10000000000000000.0) == "1e+16"
    assert to_str([1, "a"]) == "[1, 'a']"
    assert to_str({"a": None}) == "{'a': None}"
    assert to_str("hello") == "hello"
    assert to_str(Opaque()) == "Line 1, Col 11: Division by zero"
    assert to_str(CyRuntimeError("Division by zero", 1, 11)) == "Line 1, Col 11: Division by zero"


@pytest.mark.parametrize("name", ["int", "type::int"])
def test_int(name):
    to_int = fn(name)
    assert [to_int("42"), to_int(3.14), to_int(-3.7), to_int(True), to_int(" 42 "), to_int("7")] == [42, 3, -3, 1, 42, 7]
    assert to_int(99999999999999999999) == 99999999999999999999


def test_int_errors():
    to_int = fn("int")
    with pytest.raises(ValueError, match=re.escape("Cannot convert str to int: invalid literal for int() with base 10: '3.7'")):
        to_int("3.7")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Cannot convert NoneType to int: int() argument must be a string, "
            "a bytes-like object or a real number, not 'NoneType'"
        ),
    ):
        to_int(None)
    with pytest.raises(ValueError, match="^Cannot convert list to int: "):
        to_int([1])
    with pytest.raises(OverflowError, match="cannot convert float infinity to integer"):
        to_int(float("inf"))


@pytest.mark.parametrize("name", ["num", "type::num"])
def test_num(name):
    to_num = fn(name)
    values = [to_num("42.50"), to_num("30"), to_num(100), to_num(True), to_num(False), to_num("  3.14  "), to_num("1e3"), to_num(-2)]
    assert values == [42.5, 30.0, 100.0, 1.0, 0.0, 3.14, 1000.0, -2.0]
    assert all(type(v) is float for v in values)
    assert math.isnan(to_num("nan"))
    assert to_num("inf") == math.inf
    assert to_num("-inf") == -math.inf


def test_num_errors():
    to_num = fn("num")
    with pytest.raises(ValueError, match="^Cannot convert NoneType to number$"):
        to_num(None)
    with pytest.raises(ValueError, match="^Cannot convert list to number$"):
        to_num([1])
    with pytest.raises(ValueError, match="^Cannot convert string 'abc' to number$"):
        to_num("abc")
    with pytest.raises(ValueError, match="^Cannot convert string ' x ' to number$"):
        to_num(" x ")


@pytest.mark.parametrize("name", ["bool", "type::bool"])
def test_bool(name):
    to_bool = fn(name)
    words = ["true", "FALSE", "1", "0", "yes", "no", " TRUE ", "maybe", "", "   ", "False"]
    assert [to_bool(w) for w in words] == [True, False, True, False, True, False, True, True, False, False, False]
    assert [to_bool(None), to_bool(0), to_bool(0.0), to_bool(2), to_bool([]), to_bool([0]), to_bool({}), to_bool(True)] == [
        False, False, False, True, False, True, False, True
    ]


@pytest.mark.parametrize("name", ["type_of", "type::type_of"])
def test_type_of(name):
    type_of = fn(name)
    values = ["hello", 42, 3.14, True, [1, 2], {"a": 1}, None, Opaque(), CyRuntimeError("x")]
    assert [type_of(v) for v in values] == ["string", "number", "number", "boolean", "list", "dict", "null", "unknown", "unknown"]


# -- log ------------------------------------------------------------------------------


def test_log_goes_to_the_host_and_returns_the_text():
    host = LocalHost(clock=lambda: datetime(2025, 1, 1, tzinfo=timezone.utc))
    spec = REGISTRY.resolve("log")
    assert spec.uses_host
    assert spec.fn(host, "Processing started") == "Processing started"
    assert spec.fn(host, None) == "None"
    assert spec.fn(host, [1, "a"]) == "[1, 'a']"
    assert spec.fn(host, 0.5) == "0.5"
    assert spec.fn(host, message={"k": True}) == "{'k': True}"
    assert host.logs == ["Processing started", "None", "[1, 'a']", "0.5", "{'k': True}"]


def test_log_respects_the_host_cap():
    host = LocalHost(max_logs=1)
    log = fn("log")
    log(host, "a")
    assert log(host, "b") == "b"
    assert host.logs == ["a", "[LOG TRUNCATED — max entries reached]"]


# -- range ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["range", "list::range"])
def test_range(name):
    make_range = fn(name)
    assert make_range(5) == [0, 1, 2, 3, 4]
    assert make_range(2, 7) == [2, 3, 4, 5, 6]
    assert make_range(0, 10, 2) == [0, 2, 4, 6, 8]
    assert make_range(5, 0, -1) == [5, 4, 3, 2, 1]
    assert make_range(0) == []
    assert make_range(-2) == []
    assert make_range(True) == [0]
    assert make_range(start=1, end=3) == [1, 2]
    assert make_range(1, None, 1) == [0]


def test_range_errors():
    make_range = fn("range")
    with pytest.raises(ValueError, match="^range\\(\\) step argument must not be zero$"):
        make_range(0, 5, 0)
    with pytest.raises(TypeError, match="^'float' object cannot be interpreted as an integer$"):
        make_range(2.5)
    with pytest.raises(TypeError, match="'NoneType' object cannot be interpreted as an integer"):
        make_range(None)


# -- __to_iterable --------------------------------------------------------------------


def test_to_iterable():
    to_iterable = fn("__to_iterable")
    items = [1, 2]
    assert to_iterable(items) is items
    assert to_iterable({"a": 1, "b": 2}) == ["a", "b"]
    assert to_iterable("héy") == ["h", "é", "y"]
    assert to_iterable("") == []
    for value, kind in ((None, "NoneType"), (5, "int"), (1.5, "float"), (True, "bool")):
        with pytest.raises(
            TypeError,
            match=re.escape(f"Cannot iterate over {kind}. for-in loops support lists, dicts, and strings only."),
        ):
            to_iterable(value)


# -- JSON -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["from_json", "json::parse", "parse"])
def test_from_json(name):
    parse = fn(name)
    assert parse("[1, 2]") == [1, 2]
    assert parse('{"a": true}') == {"a": True}
    assert [parse(""), parse("   "), parse("1"), parse("null"), parse('"s"'), parse("2.5")] == [{}, {}, 1, None, "s", 2.5]


def test_from_json_errors():
    parse = fn("from_json")
    with pytest.raises(
        ValueError,
        match=re.escape("Invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ):
        parse("{not json")
    with pytest.raises(ValueError, match=re.escape("Invalid JSON: Expecting value: line 1 column 1 (char 0)")):
        parse("nope")
    for value in (None, 1, ["[]"]):
        with pytest.raises(ValueError, match=re.escape("from_json() requires a string argument")):
            parse(value)


@pytest.mark.parametrize("name", ["to_json", "json::stringify", "stringify"])
def test_to_json(name):
    dump = fn(name)
    assert dump({"a": 1, "b": [1]}, 2) == '{\n  "a": 1,\n  "b": [\n    1\n  ]\n}'
    assert dump([1], 0) == "[\n1\n]"
    assert dump({"k": "v"}) == '{"k": "v"}'
    assert dump({"s": "é"}) == '{"s": "\\u00e9"}'
    assert dump([1.0, None, True]) == "[1.0, null, true]"
    assert dump("x") == '"x"'
    assert dump(data=[1], indent=None) == "[1]"


def test_to_json_errors():
    dump = fn("to_json")
    with pytest.raises(
        ValueError, match=re.escape("Cannot convert to JSON: Object of type RuntimeError is not JSON serializable")
    ):
        dump(CyRuntimeError("Division by zero", 1, 11))
    with pytest.raises(ValueError, match=re.escape("Cannot convert to JSON: Object of type Opaque is not JSON serializable")):
        dump({"k": [Opaque()]}, 2)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="^Cannot convert to JSON: Circular reference detected$"):
        dump(loop)


def test_error_objects_are_named_by_their_cy_class():
    error = CyRuntimeError("Division by zero", 1, 11)
    with pytest.raises(ValueError, match=re.escape("Cannot convert RuntimeError to number")):
        fn("num")(error)
    with pytest.raises(ValueError, match=re.escape("split() requires string, got RuntimeError")):
        fn("split")(error)
    assert fn("log")(LocalHost(), error) == "Line 1, Col 11: Division by zero"
