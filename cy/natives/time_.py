"""Time natives: ISO-8601 timestamps, ``<digits><unit>`` durations and epochs.

Deliberate deviation from the reference: ``to_epoch`` reads a timestamp without an
offset as UTC. The reference uses the local time zone of whatever machine runs the
script, which would make a run's result depend on where it happens to execute.
"""

import re
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo

from .spec import Native, type_name

_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_OPERATORS = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _require_str(value: Any, message: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{message}, got {type_name(value)}")


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ValueError(f"Invalid timezone '{name}': {exc}") from None


def parse_timestamp(text: str) -> datetime:
    """``datetime.fromisoformat`` after turning a trailing ``Z`` into ``+00:00``."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"Invalid ISO 8601 timestamp: '{text}': {exc}") from None


def format_timestamp(moment: datetime) -> str:
    """ISO text; UTC and naive values end in ``Z``, other offsets are kept."""
    text = moment.isoformat()
    if moment.tzinfo is None or moment.utcoffset() == timedelta(0):
        if text.endswith("+00:00"):
            return text[:-6] + "Z"
        if not text.endswith("Z"):
            return text + "Z"
    return text


def duration_delta(text: str) -> timedelta:
    """Sum of every ``<digits><unit>`` pair in the lower-cased text."""
    parts = _DURATION_PART.findall(text.lower())
    if not parts:
        raise ValueError(
            f"Invalid duration format: '{text}'. "
            "Expected format like '1h', '30m', '1h30m', '2d', '1w'"
        )
    amounts: dict[str, int] = {}
    for digits, unit in parts:
        field = _DURATION_UNITS[unit]
        amounts[field] = amounts.get(field, 0) + int(digits)
    return timedelta(**amounts)


def now(host: Any, timezone: str = "UTC") -> str:
    moment = host.now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt_timezone.utc)
    if timezone == "UTC":
        return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.astimezone(_zone(timezone)).isoformat()


def parse_duration(duration: str) -> float:
    _require_str(duration, "parse_duration() requires string")
    try:
        return duration_delta(duration).total_seconds()
    except ValueError as exc:
        raise ValueError(f"parse_duration() failed: {exc}") from None


def format_duration(seconds: float) -> str:
    if not isinstance(seconds, (int, float)):
        raise ValueError(f"format_duration() requires number, got {type_name(seconds)}")
    if seconds < 0:
        return "-" + format_duration(-seconds)
    remaining = int(seconds)
    text = ""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        count, remaining = divmod(remaining, size)
        if count:
            text += f"{count}{unit}"
    if remaining or not text:
        text += f"{remaining}s"
    return text


def _shift(function: str, timestamp: Any, duration: Any, sign: int) -> str:
    _require_str(timestamp, f"{function}() timestamp must be string")
    _require_str(duration, f"{function}() duration must be string")
    try:
        moment = parse_timestamp(timestamp)
        delta = duration_delta(duration)
        return format_timestamp(moment + delta if sign > 0 else moment - delta)
    except ValueError as exc:
        raise ValueError(f"{function}() failed: {exc}") from None


def add_duration(timestamp: str, duration: str) -> str:
    return _shift("add_duration", timestamp, duration, 1)


def subtract_duration(timestamp: str, duration: str) -> str:
    return _shift("subtract_duration", timestamp, duration, -1)


def duration_between(start: str, end: str) -> str:
    _require_str(start, "duration_between() start must be string")
    _require_str(end, "duration_between() end must be string")
    try:
        elapsed = parse_timestamp(end) - parse_timestamp(start)
        return format_duration(elapsed.total_seconds())
    except ValueError as exc:
        raise ValueError(f"duration_between() failed: {exc}") from None


def timestamp_compare(timestamp1: str, operator: str, timestamp2: str) -> bool:
    _require_str(timestamp1, "timestamp_compare() timestamp1 must be string")
    _require_str(timestamp2, "timestamp_compare() timestamp2 must be string")
    _require_str(operator, "timestamp_compare() operator must be string")
    if operator not in _OPERATORS:
        raise ValueError(
            f"timestamp_compare() invalid operator: '{operator}'. "
            f"Valid operators: {', '.join(sorted(_OPERATORS))}"
        )
    try:
        first = parse_timestamp(timestamp1)
        second = parse_timestamp(timestamp2)
    except ValueError as exc:
        raise ValueError(f"timestamp_compare() failed: {exc}") from None
    return _OPERATORS[operator](first, second)


def from_epoch(seconds: float, timezone: str = "UTC") -> str:
    if not isinstance(seconds, (int, float)):
        raise ValueError(f"from_epoch() seconds must be number, got {type_name(seconds)}")
    _require_str(timezone, "from_epoch() timezone must be string")
    try:
        moment = datetime.fromtimestamp(seconds, tz=dt_timezone.utc)
        if timezone.upper() != "UTC":
            moment = moment.astimezone(_zone(timezone))
        return format_timestamp(moment)
    except (ValueError, OSError) as exc:
        raise ValueError(f"from_epoch() failed: {exc}") from None


def to_epoch(timestamp: str) -> float:
    _require_str(timestamp, "to_epoch() requires string")
    try:
        moment = parse_timestamp(timestamp)
    except ValueError as exc:
        raise ValueError(f"to_epoch() failed: {exc}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt_timezone.utc)
    return moment.timestamp()


NATIVES = [
    Native(
        ("time::now",),
        now,
        "Current time as ISO 8601 (UTC with Z, or isoformat in the given IANA zone)",
        uses_host=True,
    ),
    Native(("time::parse_duration",), parse_duration, "Seconds in a duration such as '1h30m' (as a float)"),
    Native(("time::format_duration",), format_duration, "Duration text such as '1d2h3m' for a number of seconds"),
    Native(("time::add_duration",), add_duration, "ISO timestamp moved forward by a duration, keeping its offset"),
    Native(
        ("time::subtract_duration",),
        subtract_duration,
        "ISO timestamp moved back by a duration, keeping its offset",
    ),
    Native(("time::duration_between",), duration_between, "Duration text from one ISO timestamp to another"),
    Native(
        ("timestamp_compare", "time::compare"),
        timestamp_compare,
        "Compare two ISO timestamps as instants with <, >, <=, >=, == or !=",
    ),
    Native(("time::from_epoch",), from_epoch, "ISO timestamp for Unix epoch seconds, in UTC or an IANA zone"),
    Native(("time::to_epoch",), to_epoch, "Unix epoch seconds (float) of an ISO timestamp; no offset means UTC"),
]
