"""Math natives: ``abs`` and ``round``."""

from typing import Any

from .spec import Native, type_name


def absolute(value: float) -> Any:
    if not isinstance(value, (int, float)):
        raise ValueError(f"abs() requires number, got {type_name(value)}")
    return abs(value)


def round_(value: float, decimals: int = 0) -> Any:
    if not isinstance(value, (int, float)):
        raise ValueError(f"round() requires number, got {type_name(value)}")
    if not isinstance(decimals, int):
        raise ValueError(f"round() decimals must be integer, got {type_name(decimals)}")
    if decimals < 0:
        raise ValueError("round() decimals must be non-negative")
    return round(value, decimals)


NATIVES = [
    Native(("math::abs",), absolute, "Absolute value of a number (int stays int)"),
    Native(("math::round",), round_, "Round half to even to a number of decimals (float stays float)"),
]
