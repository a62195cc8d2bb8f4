"""Cutting a play's hosts into canary waves.

Membership is stable: hosts are ordered by a hash of (play name, host name), so a re-run picks
the same canary and the same waves, and adding one host to the inventory moves only that host.
`canary:` pins hosts into the first wave. Sizes follow Ansible's `serial`: an int, a percentage
of the play's hosts (rounded down, at least 1), or a list whose last size repeats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import InputError


@dataclass(frozen=True)
class Wave:
    index: int  # 0-based
    hosts: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"wave {self.index + 1}"


def stable_order(play: str, hosts: list[str]) -> list[str]:
    return sorted(hosts, key=lambda h: hashlib.sha256(f"{play}\0{h}".encode()).hexdigest())


def batch_size(value: Any, total: int, where: dict) -> int:
    """One `serial` entry as a host count, as ansible-core's pct_to_int computes it."""
    if isinstance(value, bool):
        raise InputError(f"serial entry {value!r}: expected a count or a percentage", **where)
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1])
        except ValueError:
            raise InputError(f"serial entry {value!r}: expected a percentage like '10%'",
                             **where) from None
        size = int(percent / 100.0 * total)
    elif isinstance(value, str) and value.strip().isdigit():
        size = int(value)
    else:
        raise InputError(f"serial entry {value!r}: expected a count or a percentage", **where)
    if size < 0:
        raise InputError(f"serial entry {value!r} is negative", **where)
    return max(size, 1)


def plan_waves(play: str, hosts: list[str], serial: Any = None,
               canary: list[str] | None = None, where: dict | None = None) -> list[Wave]:
    where = where or {}
    if not hosts:
        return []
    ordered = stable_order(play, hosts)
    pinned = [h for h in (canary or []) if h in hosts]
    unknown = [h for h in (canary or []) if h not in hosts]
    if unknown:
        raise InputError(f"canary {unknown[0]!r} is not among the play's hosts", **where)
    ordered = pinned + [h for h in ordered if h not in pinned]
    if serial in (None, 0, "0", [], "100%"):
        sizes: list[Any] = [len(ordered)]
    else:
        sizes = serial if isinstance(serial, list) else [serial]
    waves: list[Wave] = []
    remaining = list(ordered)
    position = 0
    while remaining:
        entry = sizes[min(position, len(sizes) - 1)]
        size = batch_size(entry, len(ordered), where)
        if position == 0 and pinned:
            size = max(size, len(pinned))  # every pinned canary goes first
        waves.append(Wave(len(waves), tuple(remaining[:size])))
        remaining = remaining[size:]
        position += 1
    return waves


def wave_failed(failed: int, size: int, max_fail_percentage: Any) -> bool:
    """Ansible's rule: a batch fails when failures *exceed* the percentage (reaching it is fine).
    Without `max_fail_percentage`, any failure fails the wave (a canary must be clean)."""
    if size == 0 or failed == 0:
        return False
    if max_fail_percentage is None:
        return True
    return failed / size * 100.0 > float(max_fail_percentage)
