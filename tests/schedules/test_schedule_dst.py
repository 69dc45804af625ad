"""Daylight saving time in a local time zone, as Temporal computes a schedule's fire times.

The fire times come from Temporal itself (ListScheduleMatchingTimes, behind
``GET /v1/tasks/{id}/schedule/fire-times``); docs/schedules.md describes what they show."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.stack]


async def local_fire_times(api, make_task, cron: str, timezone: str, start: str, end: str) -> list[str]:
    task = await make_task("return 1")
    base = f"/v1/tasks/{task['id']}/schedule"
    response = await api.put(base, json={"cron": cron, "timezone": timezone, "paused": True})
    assert response.status_code == 200, response.text
    listed = await api.get(f"{base}/fire-times", params={"start": start, "end": end})
    assert listed.status_code == 200, listed.text
    return listed.json()["local_times"]


async def test_spring_forward_skips_the_missing_local_time(api, make_task) -> None:
    # Europe/Paris, Sunday 2027-03-28: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
    times = await local_fire_times(
        api, make_task, "30 2 * * *", "Europe/Paris", "2027-03-26T00:00:00Z", "2027-03-30T00:00:00Z"
    )
    assert times == [
        "2027-03-26T02:30:00+01:00",
        "2027-03-27T02:30:00+01:00",
        # no action on the 28th: not moved to 03:30, skipped
        "2027-03-29T02:30:00+02:00",
    ]
    hourly = await local_fire_times(
        api, make_task, "0 * * * *", "Europe/Paris", "2027-03-27T23:00:00Z", "2027-03-28T02:00:00Z"
    )
    # One action per real hour; the local clock never shows 02:00 that night.
    assert hourly == [
        "2027-03-28T00:00:00+01:00",
        "2027-03-28T01:00:00+01:00",
        "2027-03-28T03:00:00+02:00",
        "2027-03-28T04:00:00+02:00",
    ]


async def test_spring_forward_new_york(api, make_task) -> None:
    # America/New_York, Sunday 2027-03-14: 02:00 EST jumps to 03:00 EDT.
    times = await local_fire_times(
        api, make_task, "30 2 * * *", "America/New_York", "2027-03-13T00:00:00Z", "2027-03-16T00:00:00Z"
    )
    assert times == ["2027-03-13T02:30:00-05:00", "2027-03-15T02:30:00-04:00"]


async def test_fall_back_new_york_runs_the_repeated_time_twice(api, make_task) -> None:
    # America/New_York, Sunday 2027-11-07: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    times = await local_fire_times(
        api, make_task, "30 1 * * *", "America/New_York", "2027-11-06T12:00:00Z", "2027-11-08T12:00:00Z"
    )
    assert times == ["2027-11-07T01:30:00-04:00", "2027-11-07T01:30:00-05:00", "2027-11-08T01:30:00-05:00"]


async def test_fall_back_paris(api, make_task) -> None:
    # Europe/Paris, Sunday 2027-10-31: 03:00 CEST falls back to 02:00 CET; 02:00-02:59 happens twice.
    at_0230 = await local_fire_times(
        api, make_task, "30 2 * * *", "Europe/Paris", "2027-10-30T12:00:00Z", "2027-11-01T12:00:00Z"
    )
    # Once, at the second (standard time) 02:30.
    assert at_0230 == ["2027-10-31T02:30:00+01:00", "2027-11-01T02:30:00+01:00"]
    half_hourly = await local_fire_times(
        api, make_task, "*/30 * * * *", "Europe/Paris", "2027-10-30T23:00:00Z", "2027-10-31T02:00:00Z"
    )
    assert half_hourly == [
        "2027-10-31T01:00:00+02:00",
        "2027-10-31T01:30:00+02:00",
        "2027-10-31T02:00:00+02:00",  # first 02:00 (summer time) ...
        "2027-10-31T02:30:00+01:00",  # ... then the second 02:30 (standard time)
        "2027-10-31T03:00:00+01:00",
    ]
