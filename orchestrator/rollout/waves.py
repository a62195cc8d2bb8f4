"""Cutting a play's hosts into canary waves.

Membership is stable: hosts are ordered by a hash of (play name, host name), so a re-run picks
the same canary and the same waves, and adding one host to the inventory moves only that host.
`canary:` pins hosts into the first wave. Sizes follow Ansible's `serial` (read with the playbook,
`load.policy.parse_serial`): an int, a percentage of the play's hosts (rounded down, at least 1),
or a list whose last size repeats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load.policy import BatchSize


@dataclass(frozen=True)
class Wave:
    index: int  # 0-based
    hosts: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"wave {self.index + 1}"


def stable_order(play: str, hosts: list[str]) -> list[str]:
    return sorted(hosts, key=lambda h: hashlib.sha256(f"{play}\0{h}".encode()).hexdigest())


def plan_waves(play: str, hosts: list[str], serial: tuple[BatchSize, ...] = (),
               canary: list[str] | None = None, where: dict | None = None) -> list[Wave]:
    """`hosts` cut into waves: `serial` as the policy read it (empty: one wave), the pinned
    `canary` hosts first. Raises `InputError` at `where` for a canary not among `hosts`."""
    where = where or {}
    if not hosts:
        return []
    ordered = stable_order(play, hosts)
    pinned = [h for h in (canary or []) if h in hosts]
    unknown = [h for h in (canary or []) if h not in hosts]
    if unknown:
        raise InputError(f"canary {unknown[0]!r} is not among the play's hosts", **where)
    ordered = pinned + [h for h in ordered if h not in pinned]
    sizes = serial or (BatchSize(len(ordered)),)
    waves: list[Wave] = []
    remaining = list(ordered)
    position = 0
    while remaining:
        size = sizes[min(position, len(sizes) - 1)].of(len(ordered))
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
