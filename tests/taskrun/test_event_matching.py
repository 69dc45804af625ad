"""A rule's conditions compare JSON values as JSON does."""

from __future__ import annotations

import pytest

from taskrun.events import matches

EVENT = {"depth": 1, "ok": True, "score": 1.0, "error": {"type": "HttpError", "codes": [502, True]}, "none": None}


@pytest.mark.parametrize(
    ("pointer", "equals", "expected"),
    [
        ("/depth", 1, True),
        ("/depth", True, False),
        ("/ok", 1, False),
        ("/ok", True, True),
        ("/score", 1, True),
        ("/error/type", "HttpError", True),
        ("/error", {"type": "HttpError", "codes": [502, True]}, True),
        ("/error", {"type": "HttpError", "codes": [502, 1]}, False),
        ("/error/codes", [502], False),
        ("/none", None, True),
        ("/missing", None, False),
    ],
)
def test_conditions_compare_json_values(pointer: str, equals: object, expected: bool) -> None:
    assert matches(EVENT, [{"pointer": pointer, "equals": equals}]) is expected
