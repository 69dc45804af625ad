"""Validation of 5-field cron expressions, with messages that name the faulty field.

Temporal parses the expression itself (into calendar specs); this module only checks it first,
so that a bad expression is answered with an explanation instead of a server error, and
rejects the syntax Temporal would accept but silently ignore (``1#2``, ``L``, ``W``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
DAY_NAMES = {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day of month", 1, 31),
    CronField("month", 1, 12, MONTH_NAMES),
    CronField("day of week", 0, 7, DAY_NAMES),
)
FIELD_LAYOUT = "minute hour day-of-month month day-of-week"

_NUMBER = re.compile(r"^[0-9]{1,6}$")
MAX_EXPRESSION_LENGTH = 256


class CronError(ValueError):
    """An invalid cron expression; ``field`` names the faulty field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def normalize_cron(expression: str) -> str:
    """The expression as Temporal receives it: aliases expanded, fields separated by one space.

    Raises CronError explaining what is wrong."""
    if not isinstance(expression, str) or not expression.strip():
        raise CronError("the cron expression is empty; expected 5 fields: " + FIELD_LAYOUT)
    text = expression.strip()
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise CronError(f"the cron expression is {len(text)} characters long; at most {MAX_EXPRESSION_LENGTH}")
    if text.startswith("@"):
        alias = text.lower()
        if alias.startswith("@every"):
            raise CronError("'@every' is not a cron expression; use the 'interval' field instead (e.g. \"5m\")")
        if alias not in ALIASES:
            raise CronError(f"unknown alias {text!r}; known aliases: {', '.join(ALIASES)}")
        return ALIASES[alias]
    if "=" in text.split()[0]:
        raise CronError("a CRON_TZ=/TZ= prefix is not accepted; set the 'timezone' field instead")
    parts = text.split()
    if len(parts) != len(FIELDS):
        raise CronError(
            f"expected 5 fields ({FIELD_LAYOUT}), got {len(parts)}"
            + (" (seconds and years are not supported)" if len(parts) in (6, 7) else "")
        )
    for part, field in zip(parts, FIELDS):
        _check_field(part, field)
    return " ".join(parts)


def _check_field(text: str, field: CronField) -> None:
    for special, meaning in (("#", "nth weekday"), ("L", "last"), ("W", "nearest weekday"), ("?", "no value")):
        if special in text.upper() and not _is_name_use(text, field):
            raise CronError(
                f"{field.name} field {text!r}: '{special}' ({meaning}) is not supported by Temporal schedules",
                field.name,
            )
    for element in text.split(","):
        if element == "":
            raise CronError(f"{field.name} field {text!r}: empty list element", field.name)
        _check_element(element, text, field)


def _is_name_use(text: str, field: CronField) -> bool:
    """Whether the letters in the field are month or day names (e.g. 'JUL' contains an 'L')."""
    if field.names is None or "#" in text or "?" in text:
        return False
    words = re.findall(r"[A-Za-z]+", text)
    return bool(words) and all(word.lower() in field.names for word in words)


def _check_element(element: str, whole: str, field: CronField) -> None:
    base, slash, step = element.partition("/")
    where = f"{field.name} field {whole!r}"
    if slash:
        if not _NUMBER.match(step):
            raise CronError(f"{where}: step {step[:20]!r} is not a positive whole number up to {field.high}", field.name)
        if int(step) < 1:
            raise CronError(f"{where}: step must be at least 1", field.name)
        if int(step) > field.high:
            raise CronError(f"{where}: step {step} is larger than the field's maximum {field.high}", field.name)
    if base == "*":
        return
    start_text, dash, end_text = base.partition("-")
    start = _value(start_text, where, field)
    if dash:
        end = _value(end_text, where, field)
        if start > end:
            raise CronError(f"{where}: range {base!r} starts after it ends", field.name)


def _value(text: str, where: str, field: CronField) -> int:
    if text == "":
        raise CronError(f"{where}: missing value", field.name)
    if _NUMBER.match(text):
        value = int(text)
    elif field.names is not None and text.lower() in field.names:
        return field.names[text.lower()]
    else:
        hint = ""
        if field.names is not None:
            hint = f" (use {field.low}-{field.high} or names like {', '.join(list(field.names)[:3]).upper()})"
        raise CronError(f"{where}: {text!r} is not a number{hint}", field.name)
    if not field.low <= value <= field.high:
        extra = " (0 and 7 are Sunday)" if field.name == "day of week" else ""
        raise CronError(
            f"{where}: {value} is out of range; {field.name} must be {field.low}-{field.high}{extra}", field.name
        )
    return value
