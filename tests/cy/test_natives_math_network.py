"""Math natives (abs, round) and network natives (IP validation)."""

import math
import re

import pytest

from cy.natives import default_registry

REGISTRY = default_registry()


def fn(name):
    return REGISTRY.resolve(name).fn


@pytest.mark.parametrize("name", ["abs", "math::abs"])
def test_abs(name):
    absolute = fn(name)
    assert absolute(-5) == 5 and type(absolute(-5)) is int
    assert absolute(3.14) == 3.14
    assert absolute(-2.5) == 2.5
    assert absolute(True) == 1 and type(absolute(True)) is int
    with pytest.raises(ValueError, match=re.escape("abs() requires number, got str")):
        absolute("-5")
    with pytest.raises(ValueError, match=re.escape("abs() requires number, got NoneType")):
        absolute(None)


@pytest.mark.parametrize("name", ["round", "math::round"])
def test_round(name):
    round_ = fn(name)
    results = [round_(3.14159, 0), round_(7.0), round_(7), round_(-2.5), round_(0.125, 2)]
    assert results == [3.0, 7.0, 7, -2.0, 0.12]
    assert [type(r) for r in results] == [float, float, int, float, float]
    assert round_(2.5) == 2.0
    assert round_(3.7) == 4.0
    assert round_(2.675, 2) == 2.67
    assert round_(3.14159, 2) == 3.14
    assert round_(1234, 2) == 1234
    assert round_(17.625, 1) == 17.6
    assert math.isnan(round_(float("nan")))


def test_round_errors():
    round_ = fn("round")
    with pytest.raises(ValueError, match=re.escape("round() requires number, got str")):
        round_("1.5")
    with pytest.raises(ValueError, match=re.escape("round() decimals must be integer, got float")):
        round_(1.5, 1.0)
    with pytest.raises(ValueError, match=re.escape("round() decimals must be non-negative")):
        round_(1.5, -1)


@pytest.mark.parametrize("name", ["is_ipv4", "ip::is_v4", "is_v4"])
def test_is_ipv4(name):
    check = fn(name)
    valid = ["192.168.1.1", "10.0.0.1", "8.8.8.8", "1.1.1.1", "255.255.255.255", "0.0.0.0"]
    invalid = ["256.1.1.1", "192.168.1", "::1", "not-an-ip", "192.168.001.001", " 1.2.3.4", "1.2.3.4/24", ""]
    assert all(check(ip) is True for ip in valid)
    assert not any(check(ip) for ip in invalid)
    assert [check(None), check(1), check(["1.1.1.1"])] == [False, False, False]


@pytest.mark.parametrize("name", ["is_ipv6", "ip::is_v6", "is_v6"])
def test_is_ipv6(name):
    check = fn(name)
    valid = ["2001:db8::1", "::1", "fe80::1", "::ffff:192.168.1.1", "fe80::1%eth0", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"]
    invalid = ["192.168.1.1", "not-an-ip", "gggg::1", "", "1::2::3"]
    assert all(check(ip) is True for ip in valid)
    assert not any(check(ip) for ip in invalid)
    assert check(None) is False


@pytest.mark.parametrize("name", ["is_ip", "ip::is_valid", "is_valid"])
def test_is_ip(name):
    check = fn(name)
    assert [check("192.168.1.1"), check("2001:db8::1"), check("::1"), check("10.0.0.1")] == [True] * 4
    assert [check("not-an-ip"), check("256.1.1.1"), check(None), check(42)] == [False] * 4
