"""Host entries as Ansible writes them: `name[:port]` with `[a:b(:step)]` ranges.

Ansible splits a port off a host entry only when what is left is a valid IPv4 or IPv6 address or
hostname (ranges allowed inside); anything else is kept whole as the host's name. The grammar
below is Ansible's own, so `db[01:03]:2222`, `[fe80::1]:22` and `10.0.0.[1:9]` read the same here
as there, and patterns such as `web:db` split on ':' only when they are not one address.
"""

from __future__ import annotations

import re
import string

from orchestrator.errors import InventoryError

_NUMERIC_RANGE = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_HEX_RANGE = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]"
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"

_IPV6_PART = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_IPV4_PART = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC_RANGE})"
_LABEL = rf"(?:[\w]|{_ALNUM_RANGE})(?:[\w_-]|{_ALNUM_RANGE})*(?<![_-])"

_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_IPV4 = re.compile(rf"^(?:{_IPV4_PART}\.){{3}}{_IPV4_PART}$", re.I)
_IPV6 = re.compile(
    "^((?:{0}:){{7}}{0}|(?:{0}:){{1,6}}:|(?:{0}:)(?::{0}){{1,6}}|(?:{0}:){{2}}(?::{0}){{1,5}}|"
    "(?:{0}:){{3}}(?::{0}){{1,4}}|(?:{0}:){{4}}(?::{0}){{1,3}}|(?:{0}:){{5}}(?::{0}){{1,2}}|"
    "(?:{0}:){{6}}(?::{0})|:(?::{0}){{1,6}}|{0}?::|(?:0:){{6}}(?:{0}\\.){{3}}{0}|"
    "::(?:ffff:)?(?:{0}\\.){{3}}{0}|(?:0:){{5}}ffff:(?:{0}\\.){{3}}{0})$".format(_IPV6_PART),
    re.I,
)
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.UNICODE)


def is_ip_address(name: str) -> bool:
    return bool(_IPV4.match(name) or _IPV6.match(name))


def parse_address(address: str, allow_ranges: bool = False) -> tuple[str, int | None]:
    """Split `address` into (host, port); raise ValueError when it is not an address at all."""
    port = None
    for pattern in (_BRACKETED_HOSTPORT, _HOSTPORT):
        match = pattern.match(address)
        if match:
            address, port = match.group(1), int(match.group(2))
    if not (_IPV4.match(address) or _IPV6.match(address) or _HOSTNAME.match(address)):
        raise ValueError(f"not a valid network hostname: {address}")
    if not allow_ranges and "[" in address:
        raise ValueError("a range in a host where ranges are not allowed")
    return address, port


MAX_RANGE_HOSTS = 100_000


def expand_range(entry: str) -> list[str]:
    """Expand the first `[begin:end(:step)]` range of `entry`, recursively for the rest."""
    head, rest = entry.split("[", 1)
    body, tail = rest.split("]", 1) if "]" in rest else (rest, "")
    bounds = body.split(":")
    if len(bounds) not in (2, 3):
        raise InventoryError(f"host range must be begin:end or begin:end:step, got [{body}]")
    begin, end = bounds[0] or "0", bounds[1]
    step = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise InventoryError(f"host range [{body}] must specify an end value")
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and width != len(end):
        raise InventoryError(f"host range [{body}] must have equal-length begin and end")
    try:
        # Ansible looks the bounds up in ascii_letters with str.index, substrings included
        first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
        if first > last:
            raise InventoryError(f"host range [{body}] must have begin <= end")
        sequence: list[str] | range = list(string.ascii_letters[first : last + 1 : int(step)])
    except ValueError:
        try:
            sequence = range(int(begin), int(end) + 1, int(step))
        except ValueError:
            raise InventoryError(f"host range [{body}] is neither numeric nor alphabetic") from None
    names: list[str] = []
    for item in sequence:
        name = f"{head}{str(item).zfill(width)}{tail}"
        names.extend(expand_range(name) if "[" in name else [name])
        if len(names) > MAX_RANGE_HOSTS:
            # `web[1:9999999999]` would take hours and all memory before anything ran
            raise InventoryError(f"host range {entry!r} expands to more than {MAX_RANGE_HOSTS} "
                                 "hosts")
    return names


def expand_host_entry(entry: str) -> tuple[list[str], int | None]:
    """Host names and port of one inventory host entry such as `web[1:3].example.com:2222`."""
    try:
        pattern, port = parse_address(entry, allow_ranges=True)
    except ValueError:
        pattern, port = entry, None
    return (expand_range(pattern) if "[" in pattern else [pattern]), port
