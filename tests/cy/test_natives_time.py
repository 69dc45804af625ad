"""Time natives: now (through the host clock), durations, timestamp arithmetic, epochs."""

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from cy.host import LocalHost
from cy.natives import default_registry

REGISTRY = default_registry()
FIXED = datetime(2025, 10, 31, 14, 30, 5, 250000, tzinfo=timezone.utc)


def fn(name):
    return REGISTRY.resolve(name).fn


@pytest.fixture
def host():
    return LocalHost(clock=lambda: FIXED)


# -- now ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["now", "time::now"])
def test_now_uses_the_host_clock(host, name):
    spec = REGISTRY.resolve(name)
    assert spec.uses_host
    assert spec.fn(host) == "2025-10-31T14:30:05Z"
    assert spec.fn(host, "UTC") == "2025-10-31T14:30:05Z"
    assert spec.fn(host, "US/Pacific") == "2025-10-31T07:30:05.250000-07:00"
    assert spec.fn(host, timezone="Asia/Kolkata") == "2025-10-31T20:00:05.250000+05:30"


def test_now_converts_a_non_utc_host_clock():
    eastern = timezone(timedelta(hours=-5))
    host = LocalHost(clock=lambda: datetime(2025, 1, 1, 19, 0, tzinfo=eastern))
    assert fn("now")(host) == "2025-01-02T00:00:00Z"


def test_now_rejects_unknown_zones(host):
    now = fn("now")
    with pytest.raises(ValueError, match=re.escape("Invalid timezone 'Nowhere/Zone': 'No time zone found with key Nowhere/Zone'")):
        now(host, "Nowhere/Zone")
    with pytest.raises(ValueError, match=re.escape("Invalid timezone '5': ")):
        now(host, 5)


def test_now_never_reads_the_real_clock(host):
    assert fn("now")(host) == fn("now")(host) == "2025-10-31T14:30:05Z"


# -- durations ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["parse_duration", "time::parse_duration"])
def test_parse_duration(name):
    parse = fn(name)
    texts = ["1h", "1h30m", "1d", "30m", "1w", "2h45m30s", "1H", "2h2h", "1d 2h", "abc1hxyz", "5s"]
    assert [parse(t) for t in texts] == [3600.0, 5400.0, 86400.0, 1800.0, 604800.0, 9930.0, 3600.0, 14400.0, 93600.0, 3600.0, 5.0]
    assert [parse("1.5h"), parse("-1h"), parse("1h 30m"), parse("3M")] == [18000.0, 3600.0, 5400.0, 180.0]
    assert type(parse("1s")) is float


def test_parse_duration_errors():
    parse = fn("parse_duration")
    expected = "Expected format like '1h', '30m', '1h30m', '2d', '1w'"
    with pytest.raises(ValueError, match=re.escape(f"parse_duration() failed: Invalid duration format: 'invalid'. {expected}")):
        parse("invalid")
    with pytest.raises(ValueError, match=re.escape(f"parse_duration() failed: Invalid duration format: '90'. {expected}")):
        parse("90")
    with pytest.raises(ValueError, match=re.escape("parse_duration() requires string, got NoneType")):
        parse(None)


@pytest.mark.parametrize("name", ["format_duration", "time::format_duration"])
def test_format_duration(name):
    fmt = fn(name)
    values = [3600, 5400, 90061, -3600, 0, 59.9, 604800, 694861, -90, True, 61, 0.5, -0.5]
    assert [fmt(v) for v in values] == ["1h", "1h30m", "1d1h1m1s", "-1h", "0s", "59s", "1w", "1w1d1h1m1s", "-1m30s", "1s", "1m1s", "0s", "-0s"]


def test_format_duration_errors():
    fmt = fn("format_duration")
    with pytest.raises(ValueError, match=re.escape("format_duration() requires number, got str")):
        fmt("60")
    with pytest.raises(ValueError, match=re.escape("cannot convert float NaN to integer")):
        fmt(float("nan"))


# -- arithmetic -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["add_duration", "time::add_duration"])
def test_add_duration(name):
    add = fn(name)
    assert add("2025-10-31T14:30:00Z", "1h") == "2025-10-31T15:30:00Z"
    assert add("2025-10-31T14:30:00Z", "1d") == "2025-11-01T14:30:00Z"
    assert add("2025-10-31T14:00:00-08:00", "2h") == "2025-10-31T16:00:00-08:00"
    assert add("2025-01-01T00:00:00", "1d") == "2025-01-02T00:00:00Z"
    assert add("2025-01-01", "1d") == "2025-01-02T00:00:00Z"
    assert add("2025-01-01T00:00:00.5Z", "1s") == "2025-01-01T00:00:01.500000Z"
    assert add("2025-01-01T00:00:00+05:30", "1w") == "2025-01-08T00:00:00+05:30"
    assert add("2025-12-31T23:30:00Z", "1h30m") == "2026-01-01T01:00:00Z"
    assert add("2024-02-28T00:00:00Z", "1d") == "2024-02-29T00:00:00Z"
    assert add("2025-01-01T00:00:00+00:00", "1h") == "2025-01-01T01:00:00Z"
    assert add("2025-01-01T10:00", "1h") == "2025-01-01T11:00:00Z"
    assert add("2025-01-01 10:00:00Z", "1m") == "2025-01-01T10:01:00Z"


def test_add_duration_errors():
    add = fn("add_duration")
    with pytest.raises(
        ValueError,
        match=re.escape("add_duration() failed: Invalid ISO 8601 timestamp: 'not-a-timestamp': Invalid isoformat string: 'not-a-timestamp'"),
    ):
        add("not-a-timestamp", "1h")
    with pytest.raises(ValueError, match=re.escape("add_duration() failed: Invalid duration format: 'bad'. Expected format like")):
        add("2025-01-01T00:00:00Z", "bad")
    with pytest.raises(ValueError, match=re.escape("add_duration() timestamp must be string, got int")):
        add(5, "1h")
    with pytest.raises(ValueError, match=re.escape("add_duration() duration must be string, got NoneType")):
        add("2025-01-01", None)
    with pytest.raises(OverflowError, match="date value out of range"):
        add("9999-12-31T23:00:00Z", "2h")


@pytest.mark.parametrize("name", ["subtract_duration", "time::subtract_duration"])
def test_subtract_duration(name):
    sub = fn(name)
    assert sub("2025-10-31T14:30:00Z", "1h") == "2025-10-31T13:30:00Z"
    assert sub("2025-10-31T14:30:00Z", "1d") == "2025-10-30T14:30:00Z"
    assert sub("2025-10-31T14:30:00-08:00", "2h") == "2025-10-31T12:30:00-08:00"
    assert sub("2025-03-01T00:00:00Z", "1d") == "2025-02-28T00:00:00Z"
    assert sub("2025-01-01T00:00:00Z", "1s") == "2024-12-31T23:59:59Z"


def test_subtract_duration_errors():
    sub = fn("subtract_duration")
    with pytest.raises(ValueError, match=re.escape("subtract_duration() failed: Invalid ISO 8601 timestamp: 'bad'")):
        sub("bad", "1h")
    with pytest.raises(ValueError, match=re.escape("subtract_duration() timestamp must be string, got list")):
        sub([], "1h")


@pytest.mark.parametrize("name", ["duration_between", "time::duration_between"])
def test_duration_between(name):
    between = fn(name)
    assert between("2025-10-31T14:00:00Z", "2025-10-31T16:30:00Z") == "2h30m"
    assert between("2025-10-31T14:00:00Z", "2025-11-01T14:00:00Z") == "1d"
    assert between("2025-10-31T16:30:00Z", "2025-10-31T14:00:00Z") == "-2h30m"
    assert between("2023-06-15T14:30:32Z", "2023-06-15T14:31:32Z") == "1m"
    assert between("2025-10-31T06:00:00-08:00", "2025-10-31T14:00:00Z") == "0s"
    assert between("2025-01-01T00:00:00", "2025-01-01T00:00:09") == "9s"


def test_duration_between_errors():
    between = fn("duration_between")
    with pytest.raises(ValueError, match=re.escape("duration_between() start must be string, got NoneType")):
        between(None, "2025-01-01")
    with pytest.raises(ValueError, match=re.escape("duration_between() end must be string, got int")):
        between("2025-01-01", 1)
    with pytest.raises(ValueError, match=re.escape("duration_between() failed: Invalid ISO 8601 timestamp: 'x'")):
        between("x", "2025-01-01")
    with pytest.raises(TypeError, match="^can't subtract offset-naive and offset-aware datetimes$"):
        between("2025-01-01T00:00:00", "2025-01-01T00:00:00Z")


@pytest.mark.parametrize("name", ["timestamp_compare", "time::compare", "compare"])
def test_timestamp_compare(name):
    compare = fn(name)
    a, b = "2025-10-31T14:00:00Z", "2025-10-31T15:00:00Z"
    assert [compare(a, op, b) for op in ("<", ">", "<=", ">=", "==", "!=")] == [True, False, True, False, False, True]
    assert compare(a, "==", a) is True
    assert compare("2025-10-31T06:00:00-08:00", "==", a) is True
    assert compare("2025-10-31T14:00:00", "==", a) is False
    assert compare("2025-10-31T14:00:00", "!=", a) is True


def test_timestamp_compare_errors():
    compare = fn("timestamp_compare")
    with pytest.raises(
        ValueError,
        match=re.escape("timestamp_compare() invalid operator: '<>'. Valid operators: !=, <, <=, ==, >, >="),
    ):
        compare("2025-10-31T14:00:00Z", "<>", "2025-10-31T14:00:00Z")
    with pytest.raises(ValueError, match=re.escape("timestamp_compare() timestamp1 must be string, got NoneType")):
        compare(None, "<", "2025-01-01")
    with pytest.raises(ValueError, match=re.escape("timestamp_compare() timestamp2 must be string, got int")):
        compare("2025-01-01", "<", 3)
    with pytest.raises(ValueError, match=re.escape("timestamp_compare() operator must be string, got NoneType")):
        compare("2025-01-01", None, "2025-01-01")
    with pytest.raises(ValueError, match=re.escape("timestamp_compare() failed: Invalid ISO 8601 timestamp: 'nope'")):
        compare("nope", "<", "2025-01-01")
    with pytest.raises(TypeError, match="^can't compare offset-naive and offset-aware datetimes$"):
        compare("2025-10-31T14:00:00", "<", "2025-10-31T14:00:00Z")


# -- epochs ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["from_epoch", "time::from_epoch"])
def test_from_epoch(name):
    from_epoch = fn(name)
    assert from_epoch(1686839432) == "2023-06-15T14:30:32Z"
    assert from_epoch(0) == "1970-01-01T00:00:00Z"
    assert from_epoch(1.5) == "1970-01-01T00:00:01.500000Z"
    assert from_epoch(-86400) == "1969-12-31T00:00:00Z"
    assert from_epoch(1686839432, "utc") == "2023-06-15T14:30:32Z"
    assert from_epoch(1698765432, "US/Pacific") == "2023-10-31T08:17:12-07:00"
    assert from_epoch(1686839432, timezone="Asia/Kolkata") == "2023-06-15T20:00:32+05:30"
    assert from_epoch(0, "Europe/London") == "1970-01-01T01:00:00+01:00"
    assert from_epoch(1700000000, "Europe/London") == "2023-11-14T22:13:20Z"


def test_from_epoch_errors():
    from_epoch = fn("from_epoch")
    with pytest.raises(ValueError, match=re.escape("from_epoch() seconds must be number, got str")):
        from_epoch("0")
    with pytest.raises(ValueError, match=re.escape("from_epoch() timezone must be string, got int")):
        from_epoch(0, 5)
    with pytest.raises(
        ValueError,
        match=re.escape("from_epoch() failed: Invalid timezone 'Mars/Base': 'No time zone found with key Mars/Base'"),
    ):
        from_epoch(0, "Mars/Base")
    with pytest.raises(ValueError, match=re.escape("from_epoch() failed: Invalid value NaN (not a number)")):
        from_epoch(float("nan"))


@pytest.mark.parametrize("name", ["to_epoch", "time::to_epoch"])
def test_to_epoch(name):
    to_epoch = fn(name)
    values = [
        to_epoch("2023-06-15T14:30:32Z"),
        to_epoch("1970-01-01T00:00:00Z"),
        to_epoch("2023-06-15T07:30:32-07:00"),
        to_epoch("1969-12-31T00:00:00Z"),
        to_epoch("2023-06-15T14:30:32.250Z"),
        to_epoch("1970-01-02T00:00:00Z"),
    ]
    assert values == [1686839432.0, 0.0, 1686839432.0, -86400.0, 1686839432.25, 86400.0]
    assert all(type(v) is float for v in values)


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset")
def test_to_epoch_reads_naive_timestamps_as_utc_whatever_the_machine_zone(monkeypatch):
    to_epoch = fn("to_epoch")
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert to_epoch("1970-01-01T00:00:00") == 0.0
        assert to_epoch("2025-01-01") == 1735689600.0
    finally:
        monkeypatch.undo()
        time.tzset()


def test_to_epoch_errors():
    to_epoch = fn("to_epoch")
    with pytest.raises(ValueError, match=re.escape("to_epoch() requires string, got NoneType")):
        to_epoch(None)
    with pytest.raises(
        ValueError,
        match=re.escape("to_epoch() failed: Invalid ISO 8601 timestamp: 'bad+00:00': Invalid isoformat string: 'bad+00:00'"),
    ):
        to_epoch("badZ")


def test_epoch_round_trip():
    assert fn("to_epoch")(fn("from_epoch")(1686839492)) == 1686839492.0
