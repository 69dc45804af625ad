"""Core natives: length, sum, type conversions, ``type_of``, ``log``, ``range``."""

from typing import Any

from ..errors import LimitExceeded
from ..formatting import to_text
from ..values import build_limit, refuse_build
from .spec import Native, type_name


def length(arg: Any) -> int:
    """Length of a string (code points), list or dict; 0 for anything else."""
    if isinstance(arg, (str, list, dict)):
        return len(arg)
    return 0


def total(items: list) -> Any:
    """Python ``sum`` of a list; 0 when it is not a list or cannot be summed."""
    if not isinstance(items, list):
        return 0
    try:
        return sum(items)
    except (TypeError, ValueError):
        return 0


def to_str(value: Any) -> str:
    return to_text(value)


def to_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot convert {type_name(value)} to int: {exc}") from None


def to_num(value: Any) -> float:
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError(f"Cannot convert string '{value}' to number") from None
    raise ValueError(f"Cannot convert {type_name(value)} to number")


_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no", ""})


def to_bool(value: Any) -> bool:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        return True
    return bool(value)


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "unknown"


def log(host: Any, message: Any) -> str:
    text = to_text(message)
    host.log(text)
    return text


MAX_RANGE_LENGTH = 10_000_000


def make_range(start: int, end: int | None = None, step: int = 1) -> list:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("range() step argument must not be zero")
    numbers = range(start, end, step)
    if len(numbers) > MAX_RANGE_LENGTH:
        raise LimitExceeded(
            f"range() would build {len(numbers)} numbers; the limit is {MAX_RANGE_LENGTH}"
        )
    if len(numbers) > build_limit():
        refuse_build("range()", len(numbers))
    return list(numbers)


def to_iterable(collection: Any) -> list:
    """What a ``for`` loop walks: a list itself, a dict's keys, a string's characters."""
    if isinstance(collection, list):
        return collection
    if isinstance(collection, dict):
        return list(collection)
    if isinstance(collection, str):
        return list(collection)
    raise TypeError(
        f"Cannot iterate over {type_name(collection)}. "
        "for-in loops support lists, dicts, and strings only."
    )


NATIVES = [
    Native(
        ("len", "str::len", "list::len", "dict::len"),
        length,
        "Length of a string, list or dict (0 for any other value)",
    ),
    Native(("sum", "list::sum"), total, "Sum of a list of numbers (0 if it cannot be summed)", work_shift=2),
    Native(("type::str",), to_str, "Convert any value to its text form", work_shift=0),
    Native(("type::int",), to_int, "Convert a string or number to an integer (floats truncate)"),
    Native(("type::num",), to_num, "Convert a string, number or boolean to a float"),
    Native(("type::bool",), to_bool, "Convert a value to a boolean ('yes'/'no'/'1'/'0' strings understood)"),
    Native(("type::type_of",), type_of, "Type name of a value: null, boolean, number, string, list, dict"),
    Native(("log",), log, "Write a message to the run log and return the logged text", uses_host=True),
    Native(("list::range",), make_range, "List of integers from start (default 0) up to end, by step"),
    Native(("__to_iterable",), to_iterable, "Items a for loop walks (internal)"),
]
