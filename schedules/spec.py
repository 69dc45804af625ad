"""A schedule as the product stores it (inside ``tasks.schedule`` or ``workflows.schedule``) and
validates it.

The stored document::

    {
      "cron": "0 7 * * 1-5" | null,        # as given (aliases kept), or
      "interval": "5m" | null,             # with "offset": "1m" | null
      "timezone": "Europe/Paris",
      "input": {...},                      # passed to every run
      "overlap": "skip",
      "catchup_window": "10m" | null,      # null: Temporal's default (one year)
      "jitter": "30s" | null,
      "paused": false, "note": "...",      # paused by a person (a disabled task pauses it too)
      "task_queue": "cytasks",
      "backfills": [{"id", "start", "end", "overlap", "requested_at"}],
      "created_at": ..., "updated_at": ...
    }
"""

from __future__ import annotations

import math
import re
import zoneinfo
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .cron import CronError, normalize_cron

OVERLAP_POLICIES = ("skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all")
DEFAULT_OVERLAP = "skip"
MIN_CATCHUP_WINDOW = timedelta(seconds=10)
MIN_INTERVAL = timedelta(seconds=1)
MAX_DURATION = timedelta(days=3660)
MAX_BACKFILL_RECORDS = 50
MAX_DURATION_TEXT = 64
MAX_TIMEZONE_LENGTH = 64

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


class ScheduleSpecError(ValueError):
    """One or more invalid schedule fields: ``errors`` is a list of {field, message}."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first['field']}: {first['message']}{more}")


def parse_duration(value: Any, what: str = "duration") -> timedelta:
    """``90s``, ``5m``, ``1h30m``, ``1d``, ``250ms`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a duration like \"90s\", \"5m\", \"1h\" or \"1d\", not a boolean")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{what} is not a number of seconds")
        seconds = float(value) if abs(value) <= MAX_DURATION.total_seconds() else math.inf
    elif isinstance(value, str):
        if len(value) > MAX_DURATION_TEXT:
            raise ValueError(f"{what} is {len(value)} characters long; a duration is at most {MAX_DURATION_TEXT}")
        text = value.strip().lower().replace(" ", "")
        if not text:
            raise ValueError(f"{what} is empty; use a duration like \"90s\", \"5m\", \"1h\" or \"1d\"")
        if text.startswith("-"):
            raise ValueError(f"{what} cannot be negative")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            position, seconds = 0, 0.0
            for match in _DURATION_PART.finditer(text):
                if match.start() != position:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                position = match.end()
            if position != len(text) or position == 0:
                raise ValueError(
                    f"{what} {value!r} is not a duration; use a number followed by a unit "
                    "(ms, s, m, h, d), e.g. \"90s\", \"5m\", \"1h30m\", \"1d\""
                )
    else:
        raise ValueError(f"{what} must be a string like \"5m\" or a number of seconds")
    if seconds < 0:
        raise ValueError(f"{what} cannot be negative")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{what} {value!r} is longer than ten years")
    return timedelta(seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """The shortest ``1h30m``-style spelling of a duration."""
    total_ms = round(duration.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: Any) -> str:
    """``name`` if it is an IANA zone (not a directory of the zone database such as ``America``)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("timezone must be an IANA time zone name such as \"Europe/Paris\" or \"UTC\"")
    name = name.strip()
    if len(name) > MAX_TIMEZONE_LENGTH:
        raise ValueError(f"timezone is {len(name)} characters long; an IANA name is at most {MAX_TIMEZONE_LENGTH}")
    try:
        if name not in _zone_names():
            raise zoneinfo.ZoneInfoNotFoundError(name)
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as \"Europe/Paris\", "
            "\"America/New_York\" or \"UTC\""
        ) from None
    return name


@dataclass
class ScheduleSpec:
    """A validated schedule (times are kept as the strings the user wrote, normalized)."""

    cron: str | None = None
    interval: str | None = None
    offset: str | None = None
    timezone: str = "UTC"
    input: Any = None
    overlap: str = DEFAULT_OVERLAP
    catchup_window: str | None = None
    jitter: str | None = None
    paused: bool = False
    note: str | None = None
    version: int | None = None
    """The task (or workflow) version every fire runs; None: the version current at fire time."""
    task_queue: str | None = None
    backfills: list[dict[str, Any]] = field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def cron_normalized(self) -> str | None:
        return normalize_cron(self.cron) if self.cron else None

    @property
    def interval_delta(self) -> timedelta | None:
        return parse_duration(self.interval, "interval") if self.interval else None

    @property
    def offset_delta(self) -> timedelta:
        return parse_duration(self.offset, "offset") if self.offset else timedelta(0)

    @property
    def catchup_window_delta(self) -> timedelta | None:
        return parse_duration(self.catchup_window, "catchup_window") if self.catchup_window else None

    @property
    def jitter_delta(self) -> timedelta | None:
        return parse_duration(self.jitter, "jitter") if self.jitter else None

    def to_record(self) -> dict[str, Any]:
        return {
            "cron": self.cron,
            "interval": self.interval,
            "offset": self.offset,
            "timezone": self.timezone,
            "input": self.input,
            "overlap": self.overlap,
            "catchup_window": self.catchup_window,
            "jitter": self.jitter,
            "paused": self.paused,
            "note": self.note,
            "version": self.version,
            "task_queue": self.task_queue,
            "backfills": list(self.backfills),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "ScheduleSpec":
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in record.items() if key in known})

    def timing_key(self) -> dict[str, Any]:
        """What decides when actions happen and what they carry (not the pause state)."""
        return {
            "cron": self.cron_normalized,
            "interval": self.interval_delta.total_seconds() if self.interval else None,
            "offset": self.offset_delta.total_seconds(),
            "timezone": self.timezone,
            "input": self.input,
            "overlap": self.overlap,
            "catchup_window": self.catchup_window_delta.total_seconds() if self.catchup_window else None,
            "jitter": self.jitter_delta.total_seconds() if self.jitter else None,
            "task_queue": self.task_queue,
        }


def validate_spec(
    *,
    cron: Any = None,
    interval: Any = None,
    offset: Any = None,
    timezone: Any = "UTC",
    overlap: Any = DEFAULT_OVERLAP,
    catchup_window: Any = None,
    jitter: Any = None,
    paused: bool = False,
    note: str | None = None,
    input: Any = None,
    version: int | None = None,
) -> ScheduleSpec:
    """Check every field and collect every problem; raises ScheduleSpecError listing them."""
    errors: list[dict[str, Any]] = []

    def bad(field_name: str, message: str, **extra: Any) -> None:
        errors.append({"field": field_name, "in": "body", "message": message, **extra})

    if (cron is None) == (interval is None):
        bad(
            "cron" if cron is not None else "interval",
            "give exactly one of 'cron' (e.g. \"0 7 * * 1-5\") and 'interval' (e.g. \"5m\")",
        )
    spec = ScheduleSpec(input=input, paused=bool(paused), note=note, version=version)
    if cron is not None:
        try:
            normalize_cron(cron)
            spec.cron = " ".join(str(cron).split())
        except CronError as error:
            extra = {"cron_field": error.field} if error.field else {}
            shown = cron if not isinstance(cron, str) or len(cron) <= 80 else cron[:80] + "..."
            bad("cron", f"invalid cron expression {shown!r}: {error.message}", **extra)
    interval_delta: timedelta | None = None
    if interval is not None:
        text = str(interval).strip() if isinstance(interval, str) else interval
        if isinstance(text, str) and "/" in text:
            text, _, inline_offset = text.partition("/")
            if offset is not None:
                bad("offset", "the offset is given twice (in 'interval' after '/' and in 'offset')")
            offset = inline_offset
        try:
            interval_delta = parse_duration(text, "interval")
            if interval_delta < MIN_INTERVAL:
                raise ValueError(f"interval {interval!r} is shorter than the minimum of 1s")
            if interval_delta.total_seconds() != int(interval_delta.total_seconds()):
                raise ValueError(f"interval {interval!r} must be a whole number of seconds")
            spec.interval = format_duration(interval_delta)
        except ValueError as error:
            bad("interval", str(error))
    if offset is not None:
        if interval is None:
            bad("offset", "an offset applies only to an 'interval' schedule")
        else:
            try:
                offset_delta = parse_duration(offset, "offset")
                if interval_delta is not None and offset_delta >= interval_delta:
                    raise ValueError(
                        f"offset {format_duration(offset_delta)} must be shorter than the interval "
                        f"{format_duration(interval_delta)}"
                    )
                spec.offset = format_duration(offset_delta) if offset_delta else None
            except ValueError as error:
                bad("offset", str(error))
    try:
        spec.timezone = check_timezone("UTC" if timezone is None else timezone)
    except ValueError as error:
        bad("timezone", str(error))
    overlap_value = DEFAULT_OVERLAP if overlap is None else str(overlap).strip().lower().replace("-", "_")
    if overlap_value not in OVERLAP_POLICIES:
        bad("overlap", f"unknown overlap policy {overlap!r}; use one of {', '.join(OVERLAP_POLICIES)}")
    else:
        spec.overlap = overlap_value
    if catchup_window is not None:
        try:
            window = parse_duration(catchup_window, "catchup_window")
            if window < MIN_CATCHUP_WINDOW:
                raise ValueError(
                    f"catchup_window {catchup_window!r} is shorter than Temporal's minimum of 10s"
                )
            spec.catchup_window = format_duration(window)
        except ValueError as error:
            bad("catchup_window", str(error))
    if jitter is not None:
        try:
            jitter_delta = parse_duration(jitter, "jitter")
            spec.jitter = format_duration(jitter_delta) if jitter_delta else None
        except ValueError as error:
            bad("jitter", str(error))
    if note is not None and len(note) > 1000:
        bad("note", "note is longer than 1000 characters")
    if errors:
        raise ScheduleSpecError(errors)
    return spec


EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)


def time_range_errors(start: datetime, end: datetime, where: str) -> list[dict[str, Any]]:
    """What is wrong with the range [start, end] of fire times asked about (both aware, UTC)."""
    errors: list[dict[str, Any]] = []
    for name, moment in (("start", start), ("end", end)):
        if not EARLIEST_TIME <= moment < LATEST_TIME:
            errors.append(
                {"field": name, "in": where, "message": f"{name} must be between {EARLIEST_TIME.year} and "
                 f"{LATEST_TIME.year} (UTC)"}
            )
    if errors:
        return errors
    if start >= end:
        errors.append({"field": "end", "in": where, "message": "end must be after start"})
    elif end - start > MAX_DURATION:
        errors.append({"field": "end", "in": where, "message": "the range is longer than ten years"})
    return errors


