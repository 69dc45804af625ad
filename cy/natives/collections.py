"""List and dict natives: sort, reverse, take, slice, index_of, unique, flatten, min, max, keys, values."""

import json
from typing import Any, Union

from ..values import ensure_small
from .spec import Native, type_name


def _nested(items: list) -> bool:
    kinds = set(map(type, items))
    return list in kinds or dict in kinds


def _comparable(items: list, what: str) -> None:
    """Comparing lists and dicts walks them as trees: refuse what would not fit as text."""
    if _nested(items):
        ensure_small(items, f"the items {what} compares")


def _require_list(items: Any, message: str) -> None:
    if not isinstance(items, list):
        raise ValueError(f"{message}, got {type_name(items)}")


def sort(items: list) -> list:
    _require_list(items, "sort() requires list")
    _comparable(items, "sort()")
    try:
        return sorted(items)
    except TypeError as exc:
        raise ValueError(f"Cannot sort list: {exc}") from None


def reverse(items: list) -> list:
    _require_list(items, "reverse() requires list")
    return items[::-1]


def take(items: list, n: int) -> list:
    _require_list(items, "take() requires list")
    if not isinstance(n, int):
        raise ValueError(f"take() n must be int, got {type_name(n)}")
    if n < 0:
        raise ValueError(f"take() n must be >= 0, got {n}")
    return items[:n]


def slice_(items: Union[list, str], start: int, end: int | None = None) -> Any:
    if not isinstance(items, (list, str)):
        raise ValueError(f"slice() requires a list or string, got {type_name(items)}")
    return items[start:end]


def index_of(items: Union[list, str], value: Any) -> int:
    if not isinstance(items, (list, str)):
        raise ValueError(f"index_of() requires a list or string, got {type_name(items)}")
    if isinstance(items, list) and isinstance(value, (list, dict)):
        ensure_small(value, "the value index_of() looks for")
        _comparable(items, "index_of()")
    try:
        return items.index(value)
    except ValueError:
        return -1


def _identity(item: Any) -> Any:
    """The key two items share exactly when ``unique`` treats them as duplicates.

    Hashable values are told apart by Python type as well as value (``1``, ``1.0`` and
    ``True`` stay distinct); lists and dicts by their canonical JSON text.
    """
    try:
        key = (type(item), item)
        hash(key)
        return key
    except TypeError:
        ensure_small(item, "an item unique() compares")
        return (type_name(item), json.dumps(item, sort_keys=True, default=str))


def unique(items: list) -> list:
    _require_list(items, "unique() requires a list")
    seen: set[Any] = set()
    kept = []
    for item in items:
        key = _identity(item)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def flatten(items: list) -> list:
    _require_list(items, "flatten() requires a list")
    flat: list = []
    for item in items:
        if isinstance(item, list):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def _extreme(function: str, pick: Any, items: Any) -> float:
    _require_list(items, f"{function}() requires list")
    if not items:
        raise ValueError(f"{function}() requires non-empty list")
    _comparable(items, f"{function}()")
    try:
        return float(pick(items))
    except TypeError as exc:
        raise ValueError(f"{function}() requires list of numbers: {exc}") from None


def minimum(items: list) -> float:
    return _extreme("min", min, items)


def maximum(items: list) -> float:
    return _extreme("max", max, items)


def keys(data: dict) -> list:
    if not isinstance(data, dict):
        raise ValueError(f"keys() requires dict, got {type_name(data)}")
    return list(data.keys())


def values(data: dict) -> list:
    if not isinstance(data, dict):
        raise ValueError(f"values() requires dict, got {type_name(data)}")
    return list(data.values())


NATIVES = [
    Native(("list::sort",), sort, "New list sorted in ascending order", work_shift=0),
    Native(("list::reverse",), reverse, "New list in reverse order", work_shift=4),
    Native(("list::take",), take, "First n elements of a list", work_shift=4),
    Native(("list::slice",), slice_, "Part of a list or string from start up to end (negative counts from the end)", work_shift=4),
    Native(("list::index_of",), index_of, "Position of a value in a list or substring in a string, -1 if absent", work_shift=3),
    Native(("list::unique",), unique, "List without duplicates, keeping first occurrences in order", work_shift=0),
    Native(("list::flatten",), flatten, "Flatten nested lists by one level", work_shift=1),
    Native(("min", "list::min"), minimum, "Smallest element of a non-empty list, as a float", work_shift=2),
    Native(("max", "list::max"), maximum, "Largest element of a non-empty list, as a float", work_shift=2),
    Native(("dict::keys",), keys, "Keys of a dict, in insertion order", work_shift=2),
    Native(("dict::values",), values, "Values of a dict, in insertion order", work_shift=2),
]
