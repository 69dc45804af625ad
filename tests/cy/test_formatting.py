"""Text conversion and interpolation formatting (values taken from the conformance corpus)."""

import pytest

from cy.errors import CompilerError, CyRuntimeError
from cy.formatting import escape_xml, format_value, python_type_name, to_json_text, to_text


class Opaque:
    def __str__(self) -> str:
        return "Line 1, Col 11: Division by zero"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "None"),
        (True, "True"),
        (False, "False"),
        (42, "42"),
        (-7, "-7"),
        (1.0, "1.0"),
        (2.5, "2.5"),
        (0.00001, "1e-05"),
        (10000000000000000.0, "1e+16"),
        (1 / 3, "0.3333333333333333"),
        (0.1 + 0.2, "0.30000000000000004"),
        ("héllo", "héllo"),
        ("", ""),
        ([1, "a"], "[1, 'a']"),
        ({"a": None}, "{'a': None}"),
        ({"name": "Alice", "age": 30}, "{'name': 'Alice', 'age': 30}"),
        (["A:10.0", "Error", "Other:None", "A:20.0"], "['A:10.0', 'Error', 'Other:None', 'A:20.0']"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (Opaque(), "Line 1, Col 11: Division by zero"),
    ],
)
def test_to_text_is_python_str(value, text):
    assert to_text(value) == text


def test_to_json_text_uses_python_defaults():
    assert to_json_text({"s": "é", "l": [1, 2.0, None, True]}) == '{"s": "\\u00e9", "l": [1, 2.0, null, true]}'
    assert to_json_text("hi") == '"hi"'
    assert to_json_text(None) == "null"


def test_to_json_text_rejects_unserialisable_values():
    with pytest.raises(TypeError, match="Object of type Opaque is not JSON serializable"):
        to_json_text([Opaque()])


def test_error_objects_serialise_like_the_reference():
    error = CyRuntimeError("Division by zero", 1, 11)
    assert to_text(error) == "Line 1, Col 11: Division by zero"
    assert to_text(CompilerError("bad", 2, 3)) == "Line 2, Column 3: bad"
    assert format_value(error, "markdown") == "Line 1, Col 11: Division by zero"
    with pytest.raises(TypeError, match="^Object of type RuntimeError is not JSON serializable$"):
        to_json_text({"e": error})
    with pytest.raises(TypeError, match="^Object of type RuntimeError is not JSON serializable$"):
        format_value(error, "json")


def test_python_type_name():
    assert [python_type_name(v) for v in (None, 1, 1.5, True, "s", [], {})] == [
        "NoneType", "int", "float", "bool", "str", "list", "dict"
    ]
    assert python_type_name(CyRuntimeError("x")) == "RuntimeError"


def test_escape_xml_escapes_only_amp_lt_gt():
    assert escape_xml("<b>&\"'") == "&lt;b&gt;&amp;\"'"
    assert escape_xml(None) == "None"


# -- json mode ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (["a", 1, None, True], '["a", 1, null, true]'),
        ({"x": 1, "y": [True, None]}, '{"x": 1, "y": [true, null]}'),
        ("A", '"A"'),
        (2, "2"),
        (None, "null"),
        ([], "[]"),
    ],
)
def test_json_mode(value, text):
    assert format_value(value, "json") == text


# -- scalars and empties in every mode -------------------------------------------------


@pytest.mark.parametrize("mode", ["markdown", "csv", "xml", "plain", " csv", "yaml"])
def test_scalars_and_empty_containers_ignore_the_mode(mode):
    assert format_value(None, mode) == "null"
    assert format_value([], mode) == "[]"
    assert format_value({}, mode) == "{}"
    assert format_value("A", mode) == "A"
    assert format_value(True, mode) == "True"
    assert format_value(2.0, mode) == "2.0"
    assert format_value(0.1 + 0.2, mode) == "0.30000000000000004"
    assert format_value(Opaque(), mode) == "Line 1, Col 11: Division by zero"


def test_unknown_modes_use_python_repr():
    assert format_value(["a", "b"], " csv") == "['a', 'b']"
    assert format_value(["a", "b"], "yaml") == "['a', 'b']"
    assert format_value({"a": 1}, "plain") == "{'a': 1}"
    assert format_value([1, "x"], "plain") == "[1, 'x']"


# -- markdown -------------------------------------------------------------------------


def test_markdown_list_of_scalars():
    assert format_value(["apple", "banana", "cherry"], "markdown") == "- apple\n- banana\n- cherry"
    assert format_value([10, 30, 60], "markdown") == "- 10\n- 30\n- 60"
    assert format_value([None, True, 1.5], "markdown") == "- None\n- True\n- 1.5"


def test_markdown_dict_with_nested_dict_and_list():
    value = {"x": 1, "y": "s", "z": {"n": [1, 2]}}
    assert format_value(value, "markdown") == "**x**: 1\n**y**: s\n**z**:\n  **n**:\n    - 1\n    - 2"


def test_markdown_dict_with_list_of_dicts():
    value = {"users": [{"name": "Alice"}, {"name": "Bob"}]}
    assert format_value(value, "markdown") == "**users**:\n  -     **name**: Alice\n  -     **name**: Bob"


def test_markdown_input_dict():
    value = {"title": "Brute force", "severity": "high"}
    assert format_value(value, "markdown") == "**title**: Brute force\n**severity**: high"


def test_markdown_list_of_dicts():
    value = [{"a": 1, "b": 2}, {"c": None}]
    assert format_value(value, "markdown") == "-   **a**: 1\n  **b**: 2\n-   **c**: None"


def test_markdown_nested_lists_are_indented():
    assert format_value([1, [2, [3, 4]], 5], "markdown") == "- 1\n- - 2\n  - - 3\n    - 4\n- 5"


def test_markdown_list_values_inside_a_dict_use_python_repr_for_lists():
    assert format_value({"k": [[1, 2], "x"]}, "markdown") == "**k**:\n  - [1, 2]\n  - x"


def test_markdown_nested_empty_containers():
    assert format_value({"a": {}}, "markdown") == "**a**:\n"
    assert format_value({"a": []}, "markdown") == "**a**:"
    assert format_value([[]], "markdown") == "- "


# -- csv ------------------------------------------------------------------------------


def test_csv_simple_list():
    assert format_value(["apple", "banana", "cherry"], "csv") == "apple,banana,cherry"
    assert format_value([3, 1, 2], "csv") == "3,1,2"
    assert format_value(["a", None, True, 1.5], "csv") == "a,,True,1.5"


def test_csv_quotes_when_needed():
    assert format_value(["a,b", 'say "hi"', "x"], "csv") == '"a,b","say ""hi""",x'


def test_csv_records_use_sorted_union_of_keys():
    records = [{"id": 1, "name": "alice", "score": 92}, {"id": 2, "name": "bob", "score": 87}]
    assert format_value(records, "csv") == "id,name,score\r\n1,alice,92\r\n2,bob,87"
    users = [{"name": "Alice", "age": 30}, {"name": "Bob", "age": 25}]
    assert format_value(users, "csv") == "age,name\r\n30,Alice\r\n25,Bob"


def test_csv_records_skip_non_dicts_and_fill_missing_keys():
    value = [{"b": 1}, "stray", {"a": 2}]
    assert format_value(value, "csv") == "a,b\r\n,1\r\n2,"


def test_csv_list_starting_with_a_scalar_is_one_row():
    assert format_value(["x", {"a": 1}], "csv") == "x,{'a': 1}"


def test_csv_dict_is_header_and_row():
    assert format_value({"y": 1, "x": "s"}, "csv") == "x,y\r\ns,1"


def test_csv_output_is_stripped():
    assert format_value(["  a", "b  "], "csv") == "a,b"


# -- xml ------------------------------------------------------------------------------


def test_xml_list():
    assert format_value(["apple", "banana"], "xml") == "  <item>apple</item>\n  <item>banana</item>"


def test_xml_escapes_text():
    assert format_value(["<b>&", "ok"], "xml") == "  <item>&lt;b&gt;&amp;</item>\n  <item>ok</item>"
    value = [{"name": "<script>alert(1)</script>"}]
    assert format_value(value, "xml") == "  <item>  <name>&lt;script&gt;alert(1)&lt;/script&gt;</name></item>"


def test_xml_dict_with_nested_list():
    value = {"name": "Alice", "age": 30, "tags": ["a", "b"]}
    assert format_value(value, "xml") == (
        "  <name>Alice</name>\n  <age>30</age>\n  <tags>  <item>a</item>\n  <item>b</item></tags>"
    )


def test_xml_nested_dict_and_list_items():
    value = {"u": {"n": None}, "l": [[1], {"k": False}]}
    assert format_value(value, "xml") == (
        "  <u>  <n>None</n></u>\n"
        "  <l>  <item>  <item>1</item></item>\n  <item>  <k>False</k></item></l>"
    )


def test_xml_item_tag():
    assert format_value(["a", ["b"]], "xml", item_tag="entry") == (
        "  <entry>a</entry>\n  <entry>  <entry>b</entry></entry>"
    )
