"""Health checks that gate a wave: `http` and `tcp` from the controller, `command` on the host
over SSH, and Python checks from the `orc.health_checks` entry point group.

Each check has a timeout, a number of retries and an interval between tries; a host is healthy
when every check passes. Checks are plain data (`HealthCheck`), results too (`CheckResult`), so a
report can say which check failed on which host and why.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from orchestrator.errors import InputError, OrcError
from orchestrator.load import coerce
from orchestrator.modules.base import nearest
from orchestrator.templating.render import Variables, render_value

KINDS = ("http", "tcp", "command", "python")
OPTIONS = {"name", "status", "body", "timeout", "retries", "interval"}
ENTRY_POINT_GROUP = "orc.health_checks"


@dataclass(frozen=True)
class HealthCheck:
    kind: str
    target: Any  # URL, "host:port", command line, or entry point name (templates allowed)
    name: str
    status: tuple[int, ...] = (200,)
    body: str | None = None  # a regex the HTTP body must match
    timeout: float = 5.0
    retries: int = 2
    interval: float = 1.0
    where: str = ""  # file:line of the check, for the error of a check that raised


@dataclass(frozen=True)
class CheckResult:
    check: str
    host: str
    ok: bool
    detail: str
    attempts: int
    at: float  # wall-clock time of the last attempt


def parse_duration(value: Any, where: dict, what: str = "duration") -> float:
    """`30s`, `2m`, `1h`, `500ms` or a number of seconds (never negative)."""
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
        kinds = [k for k in item if k in KINDS]
        unknown = [k for k in item if k not in KINDS and k not in OPTIONS]
        if unknown:
            raise InputError(f"health check: unknown key {unknown[0]!r}"
                             f"{nearest(str(unknown[0]), list(KINDS) + sorted(OPTIONS))}",
                             **_key_where(item, unknown[0], item_where))
        if len(kinds) != 1:
            raise InputError(f"a health check names exactly one of {', '.join(KINDS)}",
                             **item_where)
        kind = kinds[0]
        if kind == "python":
            _plugin(str(item[kind]), _key_where(item, kind, item_where))
        at = {key: _key_where(item, key, item_where) for key in OPTIONS}
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


def _http(url: str, check: HealthCheck) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=check.timeout) as response:
            code, body = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        code, body = err.code, err.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return False, f"GET {url}: {reason}"
    if code not in check.status:
        return False, f"GET {url}: status {code}, expected {'/'.join(map(str, check.status))}"
    if check.body and not re.search(check.body, body):
        return False, f"GET {url}: body does not match {check.body!r}"
    return True, f"GET {url}: {code}"


def _tcp(address: str, check: HealthCheck) -> tuple[bool, str]:
    host, _, port = str(address).rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=check.timeout):
            return True, f"tcp {address}: open"
    except (OSError, ValueError) as err:
        return False, f"tcp {address}: {err}"


def _plugin(name: str, where: dict | None = None) -> Any:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise InputError(f"no health check plugin {name!r} in entry points {ENTRY_POINT_GROUP}",
                         **(where or {}))
    return found[0]


def _python(name: str, host: str, variables: Mapping[str, Any]) -> tuple[bool, str]:
    outcome = _plugin(name).load()(host, dict(variables))
    if isinstance(outcome, tuple):
        return bool(outcome[0]), str(outcome[1])
    return bool(outcome), f"{name}: {'ok' if outcome else 'failed'}"


CommandRunner = Callable[[str, str, float], tuple[bool, str]]


def run_check(check: HealthCheck, host: str, variables: Mapping[str, Any],
              run_command: CommandRunner) -> CheckResult:
    """One check on one host, tried until it passes or its retries are spent. Whatever it
    raises (its target's template, a plugin) fails the check on that host, in one line."""
    attempts = 0
    while True:
        attempts += 1
        try:
            ok, detail = _attempt(check, host, variables, run_command)
        except Exception as exc:  # noqa: BLE001 - the check fails; other hosts go on
            text = " ".join(str(exc).split())
            if not isinstance(exc, OrcError):
                text = f"{type(exc).__name__}: {text}"
            ok, detail = False, f"{check.where or check.name}: {text}"
        if ok or attempts > check.retries:
            return CheckResult(check.name, host, ok, detail, attempts, time.time())
        time.sleep(check.interval)


def _attempt(check: HealthCheck, host: str, variables: Mapping[str, Any],
             run_command: CommandRunner) -> tuple[bool, str]:
    target = render_value(check.target, variables)
    if check.kind == "http":
        return _http(str(target), check)
    if check.kind == "tcp":
        return _tcp(str(target), check)
    if check.kind == "command":
        return run_command(host, str(target), check.timeout)
    return _python(str(target), host, variables)


def check_hosts(checks: list[HealthCheck], hosts: list[str],
                variables_for: Callable[[str], Variables],
                run_command: CommandRunner) -> dict[str, list[CheckResult]]:
    """Every check on every host, hosts in parallel; results keyed by host."""
    if not checks or not hosts:
        return {h: [] for h in hosts}

    def one_host(host: str) -> list[CheckResult]:
        try:
            variables = variables_for(host)
        except Exception as exc:  # noqa: BLE001 - the host fails its checks, in one line
            return [CheckResult(c.name, host, False, f"{c.name}: {type(exc).__name__}: {exc}",
                                0, time.time()) for c in checks]
        return [run_check(c, host, variables, run_command) for c in checks]

    with ThreadPoolExecutor(max_workers=min(32, len(hosts))) as pool:
        return dict(zip(hosts, pool.map(one_host, hosts)))
