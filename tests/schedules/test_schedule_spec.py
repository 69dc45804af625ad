"""The schedule spec: cron and duration validation, and the translation to a Temporal Schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import ScheduleOverlapPolicy

from schedules import ScheduleSpecError, format_duration, normalize_cron, parse_duration, validate_spec
from schedules.cron import CronError
from schedules.temporal import action_fingerprint, build_schedule, pause_state


@pytest.mark.parametrize(
    ("expression", "normalized"),
    [
        ("0 7 * * 1-5", "0 7 * * 1-5"),
        ("  */15   *  * * * ", "*/15 * * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("0 0 1 jan,jul *", "0 0 1 jan,jul *"),
        ("0 9 * * MON-FRI", "0 9 * * MON-FRI"),
        ("0 0 * * 7", "0 0 * * 7"),
        ("5-10/2 0-23/6 1,15 */3 *", "5-10/2 0-23/6 1,15 */3 *"),
    ],
)
def test_valid_cron(expression: str, normalized: str) -> None:
    assert normalize_cron(expression) == normalized


@pytest.mark.parametrize(
    ("expression", "field", "fragment"),
    [
        ("61 * * * *", "minute", "61 is out of range; minute must be 0-59"),
        ("0 24 * * *", "hour", "hour must be 0-23"),
        ("0 0 0 * *", "day of month", "day of month must be 1-31"),
        ("0 0 * 13 *", "month", "month must be 1-12"),
        ("0 0 * * 8", "day of week", "0 and 7 are Sunday"),
        ("0 0 * * 1#2", "day of week", "'#' (nth weekday) is not supported"),
        ("0 0 L * *", "day of month", "'L' (last)"),
        ("*/0 * * * *", "minute", "step must be at least 1"),
        ("10-5 * * * *", "minute", "starts after it ends"),
        ("0 0 * * funday", "day of week", "'funday' is not a number"),
        ("0 0 * * *,", "day of week", "empty list element"),
    ],
)
def test_invalid_cron_names_the_field(expression: str, field: str, fragment: str) -> None:
    with pytest.raises(CronError) as caught:
        normalize_cron(expression)
    assert caught.value.field == field
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("0 0 0 * * * *", "seconds and years are not supported"),
        ("@fortnightly", "unknown alias"),
        ("@every 5m", "use the 'interval' field"),
        ("CRON_TZ=Europe/Paris 0 7 * * *", "set the 'timezone' field"),
        ("", "empty"),
    ],
)
def test_invalid_cron_shape(expression: str, fragment: str) -> None:
    with pytest.raises(CronError) as caught:
        normalize_cron(expression)
    assert fragment in caught.value.message


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration(2.5) == timedelta(seconds=2.5)
    assert format_duration(timedelta(seconds=5400)) == "1h30m"
    assert format_duration(timedelta(seconds=90)) == "1m30s"
    for bad in ("5 minutes", "m5", "-5s", "5x", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_spec_collects_every_problem() -> None:
    with pytest.raises(ScheduleSpecError) as caught:
        validate_spec(
            cron="0 25 * * *", timezone="Mars/Olympus", overlap="sometimes", catchup_window="2s", jitter="soon"
        )
    fields = [error["field"] for error in caught.value.errors]
    assert fields == ["cron", "timezone", "overlap", "catchup_window", "jitter"]
    messages = " | ".join(error["message"] for error in caught.value.errors)
    assert "hour must be 0-23" in messages
    assert "unknown time zone 'Mars/Olympus'" in messages
    assert "Temporal's minimum of 10s" in messages
    assert caught.value.errors[0]["cron_field"] == "hour"


def test_spec_needs_exactly_one_timing() -> None:
    with pytest.raises(ScheduleSpecError, match="exactly one of 'cron'"):
        validate_spec()
    with pytest.raises(ScheduleSpecError, match="exactly one of 'cron'"):
        validate_spec(cron="@hourly", interval="5m")


def test_interval_offset_forms() -> None:
    assert validate_spec(interval="1h/15m").offset == "15m"
    spec = validate_spec(interval="90s", offset="30s")
    assert (spec.interval, spec.offset) == ("1m30s", "30s")
    with pytest.raises(ScheduleSpecError, match="must be shorter than the interval"):
        validate_spec(interval="5m", offset="5m")
    with pytest.raises(ScheduleSpecError, match="shorter than the minimum of 1s"):
        validate_spec(interval="500ms")
    with pytest.raises(ScheduleSpecError, match="applies only to an 'interval'"):
        validate_spec(cron="@daily", offset="5m")


def test_overlap_accepts_hyphens() -> None:
    assert validate_spec(interval="5m", overlap="buffer-one").overlap == "buffer_one"


def test_translation_to_temporal() -> None:
    spec = validate_spec(
        cron="@hourly", timezone="Europe/Paris", input={"a": 1}, overlap="buffer_all", catchup_window="10m",
        jitter="30s",
    )
    spec.task_queue = "q"
    schedule = build_schedule(
        spec, task_id="t1", task_name="my_task", task_status="enabled", task_queue="q", with_search_attributes=False
    )
    assert schedule.spec.cron_expressions == ["0 * * * *"]
    assert schedule.spec.time_zone_name == "Europe/Paris"
    assert schedule.spec.jitter == timedelta(seconds=30)
    assert schedule.policy.overlap == ScheduleOverlapPolicy.BUFFER_ALL
    assert schedule.policy.catchup_window == timedelta(minutes=10)
    assert schedule.action.id == "taskrun-sched-t1"
    assert schedule.action.task_queue == "q"
    request = schedule.action.args[0]
    assert (request.run_id, request.script, request.task_id, request.input, request.trigger) == (
        "", "", "t1", {"a": 1}, "schedule"
    )
    assert schedule.state.paused is False
    assert action_fingerprint(schedule)

    interval = validate_spec(interval="1h", offset="15m")
    built = build_schedule(
        interval, task_id="t2", task_name="x", task_status="disabled", task_queue="q", with_search_attributes=False
    )
    assert built.spec.intervals[0].every == timedelta(hours=1)
    assert built.spec.intervals[0].offset == timedelta(minutes=15)
    assert built.state.paused is True
    assert built.state.note == "task is disabled"


def test_pause_state() -> None:
    spec = validate_spec(interval="5m", paused=True, note="maintenance")
    assert pause_state(spec, "enabled") == (True, "paused", "maintenance")
    assert pause_state(spec, "archived") == (True, "task_archived", "task is archived; maintenance")
    spec.paused = False
    assert pause_state(spec, "enabled") == (False, None, "maintenance")
