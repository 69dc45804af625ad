"""The CLI's shared formatting: durations, times with their zone, help screens."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.output import format_time, human_duration, short_time, table


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0 ms"),
        (359, "359 ms"),
        (4200, "4.2 s"),
        (42_000, "42 s"),
        (360_000, "6 min 0 s"),
        (359_727, "5 min 59 s"),
        (3_720_000, "1 h 2 min"),
        (90_000_000, "1 d 1 h"),
        (None, ""),
    ],
)
def test_durations_read_humanely(ms, text) -> None:
    assert human_duration(ms) == text


def test_times_say_their_zone() -> None:
    assert format_time("2026-12-01T23:44:25.123456+00:00") == "2026-12-01 23:44:25 UTC"
    assert format_time("2026-12-02T06:00:00Z", "Europe/Paris") == "2026-12-02 07:00:00 CET"
    assert format_time("2026-07-02T05:00:00+00:00", "Europe/Paris") == "2026-07-02 07:00:00 CEST"
    assert short_time("2026-12-01T23:44:25+01:00") == "2026-12-01 22:44:25"


def test_time_columns_name_their_zone() -> None:
    grid = table("id", "created", "scheduled", zone="Europe/Paris")
    assert [column.header for column in grid.columns] == ["id", "created (Europe/Paris)", "scheduled (Europe/Paris)"]


def test_help_does_not_mark_flags_as_taking_a_value() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    assert "--wait" in result.stdout and "<str>" in result.stdout
