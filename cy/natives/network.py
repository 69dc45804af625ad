"""Network natives: IP address validation."""

import ipaddress

from .spec import Native


def is_ipv4(ip: str) -> bool:
    if not isinstance(ip, str):
        return False
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    return True


def is_ipv6(ip: str) -> bool:
    if not isinstance(ip, str):
        return False
    try:
        ipaddress.IPv6Address(ip)
    except ValueError:
        return False
    return True


def is_ip(ip: str) -> bool:
    return is_ipv4(ip) or is_ipv6(ip)


NATIVES = [
    Native(("is_ipv4", "ip::is_v4"), is_ipv4, "Whether a string is a dotted-quad IPv4 address"),
    Native(("is_ipv6", "ip::is_v6"), is_ipv6, "Whether a string is an IPv6 address"),
    Native(("is_ip", "ip::is_valid"), is_ip, "Whether a string is an IPv4 or IPv6 address"),
]
