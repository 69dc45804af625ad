"""List and dict natives."""

import re

import pytest

from cy.natives import default_registry

REGISTRY = default_registry()


def fn(name):
    return REGISTRY.resolve(name).fn


@pytest.mark.parametrize("name", ["sort", "list::sort"])
def test_sort(name):
    sort = fn(name)
    numbers = [5, 3, 8, 1, 9]
    assert sort(numbers) == [1, 3, 5, 8, 9]
    assert numbers == [5, 3, 8, 1, 9]
    assert sort(["charlie", "alice", "bob"]) == ["alice", "bob", "charlie"]
    assert sort(["10", "9", "Z", "a"]) == ["10", "9", "Z", "a"]
    assert sort([True, 0, 2.5, 1]) == [0, True, 1, 2.5]
    assert sort([[2], [1, 5], [1]]) == [[1], [1, 5], [2]]
    assert sort([]) == []


def test_sort_errors():
    sort = fn("sort")
    with pytest.raises(ValueError, match=re.escape("Cannot sort list: '<' not supported between instances of 'str' and 'int'")):
        sort([3, "a"])
    with pytest.raises(ValueError, match=re.escape("Cannot sort list: '<' not supported between instances of 'dict' and 'dict'")):
        sort([{"a": 1}, {"a": 2}])
    with pytest.raises(ValueError, match=re.escape("Cannot sort list: '<' not supported between instances of 'int' and 'NoneType'")):
        sort([None, 1])
    with pytest.raises(ValueError, match=re.escape("sort() requires list, got str")):
        sort("cba")


@pytest.mark.parametrize("name", ["reverse", "list::reverse"])
def test_reverse(name):
    reverse = fn(name)
    numbers = [5, 3, 8, 1, 9]
    assert reverse(numbers) == [9, 1, 8, 3, 5]
    assert numbers == [5, 3, 8, 1, 9]
    assert reverse([]) == []
    with pytest.raises(ValueError, match=re.escape("reverse() requires list, got str")):
        reverse("abc")


@pytest.mark.parametrize("name", ["take", "list::take"])
def test_take(name):
    take = fn(name)
    assert [take([1, 2, 3, 4, 5], 3), take([1, 2], 5), take([1, 2, 3], 0), take([], 5), take([9, 8], 1)] == [
        [1, 2, 3], [1, 2], [], [], [9]
    ]
    assert take([1, 2], True) == [1]


def test_take_errors():
    take = fn("take")
    with pytest.raises(ValueError, match=re.escape("take() n must be >= 0, got -1")):
        take([1, 2], -1)
    with pytest.raises(ValueError, match=re.escape("take() requires list, got str")):
        take("abc", 1)
    with pytest.raises(ValueError, match=re.escape("take() n must be int, got float")):
        take([1], 1.0)


@pytest.mark.parametrize("name", ["slice", "list::slice"])
def test_slice(name):
    slice_ = fn(name)
    assert slice_([1, 2, 3, 4, 5], 1, 3) == [2, 3]
    assert slice_([1, 2, 3, 4, 5], 2) == [3, 4, 5]
    assert slice_("hello", 1, 3) == "el"
    assert slice_([1, 2, 3], -2) == [2, 3]
    assert slice_([1, 2, 3], 1, None) == [2, 3]
    assert slice_([1, 2, 3], 5, 10) == []
    assert slice_([1, 2, 3], -10, 1) == [1]


def test_slice_errors():
    slice_ = fn("slice")
    with pytest.raises(ValueError, match=re.escape("slice() requires a list or string, got dict")):
        slice_({"a": 1}, 0)
    with pytest.raises(TypeError, match="^slice indices must be integers or None or have an __index__ method$"):
        slice_([1, 2], 0.5)


@pytest.mark.parametrize("name", ["index_of", "list::index_of"])
def test_index_of(name):
    index_of = fn(name)
    results = [
        index_of([10, 20, 30], 20),
        index_of([10, 20, 30], 99),
        index_of("hello world", "world"),
        index_of("hello", "xyz"),
        index_of([1, 2], 1.0),
        index_of([True], 1),
        index_of([[1]], [1]),
        index_of(["a"], "a"),
        index_of([{"a": 1}], {"a": 1}),
    ]
    assert results == [1, -1, 6, -1, 0, 0, 0, 0, 0]


def test_index_of_errors():
    index_of = fn("index_of")
    with pytest.raises(ValueError, match=re.escape("index_of() requires a list or string, got NoneType")):
        index_of(None, 1)
    with pytest.raises(TypeError, match="must be str, not int"):
        index_of("abc", 1)


@pytest.mark.parametrize("name", ["unique", "list::unique"])
def test_unique(name):
    unique = fn(name)
    assert unique(["1.1.1.1", "8.8.8.8", "1.1.1.1"]) == ["1.1.1.1", "8.8.8.8"]
    assert unique([1, 2, 2, 3, 1]) == [1, 2, 3]
    assert unique([]) == []
    assert unique([{"a": 1}, {"a": 1}, [1], [1]]) == [{"a": 1}, [1]]
    assert unique([None, None, 0]) == [None, 0]
    assert unique(["a", "a"]) == ["a"]


def test_unique_tells_types_apart():
    unique = fn("unique")
    result = unique([1, 1.0, True, "1"])
    assert result == [1, 1.0, True, "1"]
    assert [type(v) for v in result] == [int, float, bool, str]
    assert unique([{"a": 1, "b": 2}, {"b": 2, "a": 1}]) == [{"a": 1, "b": 2}]
    assert unique([[1], [1.0], [True]]) == [[1], [1.0], [True]]
    assert unique([[], {}]) == [[], {}]
    first = {"k": 1}
    assert unique([first, {"k": 1}])[0] is first


def test_unique_errors():
    with pytest.raises(ValueError, match=re.escape("unique() requires a list, got NoneType")):
        fn("unique")(None)


@pytest.mark.parametrize("name", ["flatten", "list::flatten"])
def test_flatten(name):
    flatten = fn(name)
    assert flatten([[1, 2], [3, 4]]) == [1, 2, 3, 4]
    assert flatten([[1], 2, [3]]) == [1, 2, 3]
    assert flatten([[1, [2, 3]], [4]]) == [1, [2, 3], 4]
    assert flatten([]) == []
    assert flatten([[], [None]]) == [None]
    with pytest.raises(ValueError, match=re.escape("flatten() requires a list, got str")):
        flatten("ab")


@pytest.mark.parametrize(("name", "label"), [("min", "min"), ("list::min", "min")])
def test_min(name, label):
    minimum = fn(name)
    assert minimum([3, 1, 2]) == 1.0
    assert type(minimum([3, 1, 2])) is float
    assert minimum([5.5, 2.1]) == 2.1
    assert minimum([True, 2]) == 1.0
    assert minimum(["10", "9"]) == 10.0
    with pytest.raises(ValueError, match=re.escape(f"{label}() requires non-empty list")):
        minimum([])
    with pytest.raises(ValueError, match=re.escape(f"{label}() requires list, got NoneType")):
        minimum(None)
    with pytest.raises(ValueError, match=re.escape("could not convert string to float: 'a'")):
        minimum(["a", "b"])
    with pytest.raises(ValueError, match=re.escape(f"{label}() requires list of numbers: '<' not supported")):
        minimum([1, "a"])


@pytest.mark.parametrize(("name", "label"), [("max", "max"), ("list::max", "max")])
def test_max(name, label):
    maximum = fn(name)
    assert maximum([40, 29, 26]) == 40.0
    assert type(maximum([1])) is float
    assert maximum(["10", "9"]) == 9.0
    with pytest.raises(ValueError, match=re.escape(f"{label}() requires non-empty list")):
        maximum([])
    with pytest.raises(ValueError, match=re.escape(f"{label}() requires list, got dict")):
        maximum({"a": 1})
    with pytest.raises(
        ValueError,
        match=re.escape(f"{label}() requires list of numbers: float() argument must be a string or a real number, not 'list'"),
    ):
        maximum([[1]])


@pytest.mark.parametrize(("keys_name", "values_name"), [("keys", "values"), ("dict::keys", "dict::values")])
def test_keys_values(keys_name, values_name):
    keys, values = fn(keys_name), fn(values_name)
    data = {"name": "Alice", "age": 30}
    assert keys(data) == ["name", "age"]
    assert values(data) == ["Alice", 30]
    assert keys({}) == []
    assert values({"b": [2]}) == [[2]]
    with pytest.raises(ValueError, match=re.escape("keys() requires dict, got list")):
        keys([1])
    with pytest.raises(ValueError, match=re.escape("values() requires dict, got NoneType")):
        values(None)
