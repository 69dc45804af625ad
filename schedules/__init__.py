"""Task and workflow schedules on Temporal Schedules: the spec, its validation, the translation and the operations."""

from .cron import ALIASES, CronError, normalize_cron
from .spec import (
    OVERLAP_POLICIES,
    ScheduleSpec,
    ScheduleSpecError,
    format_duration,
    parse_duration,
    validate_spec,
)

__all__ = [
    "ALIASES",
    "OVERLAP_POLICIES",
    "CronError",
    "ScheduleSpec",
    "ScheduleSpecError",
    "format_duration",
    "normalize_cron",
    "parse_duration",
    "validate_spec",
]
