"""Host names folded the way an Ansible inventory writes ranges: `web01..web40` is `web[01:40]`.

Ansible's inventory range syntax (`www[01:50].example.com`, docs: "Adding ranges of hosts") is
what operators already read; a fleet of hundreds still fits on one line of a plan or a table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")  # the last run of digits is the counter


def fold_hosts(names: Iterable[str]) -> str:
    """`web01 web02 web03 web05 db` as `web[01:03], web05, db`: each run of consecutive
    numbers of one prefix, suffix and zero-padding becomes a range; order of first appearance."""
    groups: dict[tuple[str, str, int], list[int]] = {}  # (prefix, suffix, width) -> numbers
    plain: dict[tuple[str, str, int], str] = {}
    for name in dict.fromkeys(names):
        match = _NUMBERED.match(name)
        if match is None:
            plain[(name, "", -1)] = name
            groups.setdefault((name, "", -1), [])
            continue
        prefix, digits, suffix = match.groups()
        padded = len(digits) > 1 and digits.startswith("0")
        groups.setdefault((prefix, suffix, len(digits) if padded else 0), []).append(int(digits))
    # a width-2 series 01..10 also holds "10": an unpadded number as wide as a padded series
    for (prefix, suffix, width), numbers in list(groups.items()):
        if width != 0:
            continue
        for number in list(numbers):
            key = (prefix, suffix, len(str(number)))
            if key in groups and key[2] > 1:
                groups[key].append(number)
                numbers.remove(number)
    parts = []
    for (prefix, suffix, width), numbers in groups.items():
        if width == -1:
            parts.append(plain[(prefix, suffix, width)])
            continue
        for first, last in _spans(sorted(set(numbers))):
            a, b = str(first).zfill(width), str(last).zfill(width)
            parts.append(f"{prefix}{a}{suffix}" if first == last else f"{prefix}[{a}:{b}]{suffix}")
    return ", ".join(parts)


def _spans(numbers: list[int]) -> list[tuple[int, int]]:
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return [(a, b) for a, b in spans]


def count(n: int, noun: str) -> str:
    """`1 host`, `3 hosts`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
