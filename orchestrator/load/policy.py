"""A play's rollout policy: `serial`, `canary`, `max_fail_percentage`, `any_errors_fatal`,
`health`, `bake`, `pause` and `rollback`, read once when the playbook loads.

Each key is converted to its type here (booleans and numbers as Ansible converts them, `serial`
as ansible-core's `pct_to_int` reads it), so a bad value fails the load in one line at its
file:line, before any run is recorded or any host reached. What needs the inventory (a canary
that is not among the play's hosts, a percentage turned into a host count) is left to planning
the waves (`orchestrator.rollout.waves`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import coerce
from orchestrator.load.tasks import flag
from orchestrator.modules.base import nearest

KEYS = ("serial", "max_fail_percentage", "any_errors_fatal", "canary", "health", "bake", "pause",
        "rollback")
ROLLBACK_MODES = ("auto", "wave", "manual")
HEALTH_KINDS = ("http", "tcp", "command", "python")
HEALTH_OPTIONS = {"name", "status", "body", "timeout", "retries", "interval"}
ENTRY_POINT_GROUP = "orc.health_checks"


@dataclass(frozen=True)
class BatchSize:
    """One entry of `serial`: a host count, or (`percent` set) a percentage of the play's hosts."""

    count: int = 0
    percent: float | None = None

    def of(self, total: int) -> int:
        """Hosts in a wave of a play of `total` hosts: a percentage rounded down, and at least
        one host (ansible-core's `pct_to_int`)."""
        size = int(self.percent / 100.0 * total) if self.percent is not None else self.count
        return max(size, 1)


@dataclass(frozen=True)
class HealthCheck:
    kind: str  # one of HEALTH_KINDS
    target: Any  # URL, "host:port", command line, or entry point name (templates allowed)
    name: str
    status: tuple[int, ...] = (200,)
    body: str | None = None  # a regex the HTTP body must match
    timeout: float = 5.0  # seconds
    retries: int = 2
    interval: float = 1.0  # seconds between tries
    where: str = ""  # file:line of the check, for the error of a check that raised


@dataclass(frozen=True)
class RolloutPolicy:
    """A play's rollout keys, typed. `serial` empty: every host in one wave."""

    serial: tuple[BatchSize, ...] = ()
    canary: tuple[str, ...] = ()
    max_fail_percentage: float | None = None
    any_errors_fatal: bool = False
    health: tuple[HealthCheck, ...] = ()
    bake: float = 0.0  # seconds
    pause: bool = False
    rollback: str = "manual"  # one of ROLLBACK_MODES


def parse_policy(raw: Mapping[str, Any], variables: Mapping[str, Any],
                 where_of: Callable[[str], dict]) -> RolloutPolicy:
    """The policy of a play from its keys as loaded (`raw`); `any_errors_fatal` and `pause`
    may be templates, rendered with the play's `variables`. `where_of(key)` is the `path=` and
    `line=` of a key, for its error."""
    rollback = str(raw.get("rollback", "manual"))
    if rollback not in ROLLBACK_MODES:
        raise InputError(f"rollback: {rollback!r} is not one of {', '.join(ROLLBACK_MODES)}",
                         **where_of("rollback"))
    canary = raw.get("canary") or []
    canary = [canary] if isinstance(canary, str) else canary
    if not isinstance(canary, list) or not all(isinstance(h, str) for h in canary):
        raise InputError("canary: expected a host name or a list of them", **where_of("canary"))
    return RolloutPolicy(
        max_fail_percentage=percentage(raw.get("max_fail_percentage"),
                                       where_of("max_fail_percentage")),
        any_errors_fatal=bool(flag(raw.get("any_errors_fatal"), variables, "any_errors_fatal",
                                   where_of("any_errors_fatal"))),
        health=tuple(parse_checks(raw.get("health"), where_of("health"))),
        bake=parse_duration(raw.get("bake", 0), where_of("bake"), "bake"),
        pause=bool(flag(raw.get("pause"), variables, "pause", where_of("pause"))),
        canary=tuple(canary),
        rollback=rollback,
        serial=parse_serial(raw.get("serial"), where_of("serial")),
    )


def parse_serial(value: Any, where: dict) -> tuple[BatchSize, ...]:
    """Ansible's `serial`: a count, a percentage ("30%"), or a list of them whose last size
    repeats; unset, 0 or "100%" is every host at once (the empty tuple)."""
    if value in (None, 0, "0", [], "100%"):
        return ()
    return tuple(batch_size(entry, where) for entry in (value if isinstance(value, list)
                                                        else [value]))


def batch_size(value: Any, where: dict) -> BatchSize:
    """One `serial` entry: an int, a string of digits, or a percentage such as "10%" or
    "12.5%"; never negative."""
    if isinstance(value, bool):
        raise InputError(f"serial entry {value!r}: expected a count or a percentage", **where)
    if isinstance(value, int):
        size = BatchSize(value)
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            size = BatchSize(percent=float(value.strip()[:-1]))
        except ValueError:
            raise InputError(f"serial entry {value!r}: expected a percentage like '10%'",
                             **where) from None
    elif isinstance(value, str) and value.strip().isdigit():
        size = BatchSize(int(value))
    else:
        raise InputError(f"serial entry {value!r}: expected a count or a percentage", **where)
    if size.count < 0 or (size.percent is not None and size.percent < 0):
        raise InputError(f"serial entry {value!r} is negative", **where)
    return size


def percentage(value: Any, where: dict) -> float | None:
    """`max_fail_percentage`: a number, or a string such as "30" or "30%" (as Ansible reads
    its percent fields)."""
    if value is None:
        return None
    try:
        number = coerce.number(value.strip().removesuffix("%") if isinstance(value, str)
                               else value)
    except coerce.ConversionError:
        raise InputError(f"max_fail_percentage: {value!r} is not a percentage", **where) from None
    if not 0 <= number <= 100:
        raise InputError(f"max_fail_percentage: {value!r} is not between 0 and 100", **where)
    return number


def parse_duration(value: Any, where: dict, what: str = "duration") -> float:
    """`30s`, `2m`, `1h`, `500ms` or a number of seconds (never negative), in seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*",
                         value if isinstance(value, str) else "")
    if not match:
        raise InputError(f"{what} {value!r}: expected a number of seconds or e.g. '30s', '2m'",
                         **where)
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def _key_where(item: Any, key: str, where: dict) -> dict:
    """The file and line of one key of a check, when the loader kept them."""
    line_of = getattr(item, "line_of", None)
    return {**where, "line": line_of(key)} if line_of else where


def _statuses(value: Any, where: dict) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    try:
        codes = tuple(coerce.integer(v) for v in values)
    except coerce.ConversionError as err:
        raise InputError(f"health check status: {err} (expected an HTTP status or a list)",
                         **where) from None
    if not codes or not all(100 <= c <= 599 for c in codes):
        raise InputError(f"health check status {value!r}: expected HTTP statuses (100-599)",
                         **where)
    return codes


def _retries(value: Any, where: dict) -> int:
    try:
        retries = coerce.integer(value)
    except coerce.ConversionError as err:
        raise InputError(f"health check retries: {err}", **where) from None
    if retries < 0:
        raise InputError(f"health check retries {value!r}: expected 0 or more", **where)
    return retries


def health_plugin(name: str, where: dict | None = None) -> EntryPoint:
    """The `orc.health_checks` entry point of a `python:` check, or an error naming it."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise InputError(f"no health check plugin {name!r} in entry points {ENTRY_POINT_GROUP}",
                         **(where or {}))
    return found[0]


def parse_checks(raw: Any, where: dict) -> list[HealthCheck]:
    """The checks of a play's `health:`; each key is checked here, before any host is touched,
    and a bad value is an error at its line."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError("health: expected a list of checks", **where)
    checks = []
    for item in raw:
        item_where = {**where, "line": getattr(item, "line", None) or where.get("line")}
        if not isinstance(item, dict):
            raise InputError("a health check is a mapping like `http: URL`", **item_where)
        kinds = [k for k in item if k in HEALTH_KINDS]
        unknown = [k for k in item if k not in HEALTH_KINDS and k not in HEALTH_OPTIONS]
        if unknown:
            raise InputError(f"health check: unknown key {unknown[0]!r}"
                             f"{nearest(str(unknown[0]), list(HEALTH_KINDS) + sorted(HEALTH_OPTIONS))}",
                             **_key_where(item, unknown[0], item_where))
        if len(kinds) != 1:
            raise InputError(f"a health check names exactly one of {', '.join(HEALTH_KINDS)}",
                             **item_where)
        kind = kinds[0]
        if kind == "python":
            health_plugin(str(item[kind]), _key_where(item, kind, item_where))
        at = {key: _key_where(item, key, item_where) for key in HEALTH_OPTIONS}
        body = item.get("body")
        if body is not None:
            try:
                re.compile(str(body))
            except re.error as err:
                raise InputError(f"health check body: not a regular expression: {err}",
                                 **at["body"]) from None
        checks.append(HealthCheck(
            kind=kind,
            target=item[kind],
            name=str(item.get("name") or f"{kind} {item[kind]}"),
            status=_statuses(item.get("status", 200), at["status"]),
            body=None if body is None else str(body),
            timeout=parse_duration(item.get("timeout", 5), at["timeout"], "timeout"),
            retries=_retries(item.get("retries", 2), at["retries"]),
            interval=parse_duration(item.get("interval", 1), at["interval"], "interval"),
            where=":".join(str(v) for v in (item_where.get("path"), item_where.get("line"))
                           if v is not None),
        ))
    return checks
