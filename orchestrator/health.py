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

from orchestrator.errors import InputError
from orchestrator.modules.base import nearest
from orchestrator.templating import Variables, render_value

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


@dataclass(frozen=True)
class CheckResult:
    check: str
    host: str
    ok: bool
    detail: str
    attempts: int
    at: float  # wall-clock time of the last attempt


def parse_duration(value: Any, where: dict, what: str = "duration") -> float:
    """`30s`, `2m`, `1h`, `500ms` or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", str(value))
    if not match:
        raise InputError(f"{what} {value!r}: expected a number of seconds or e.g. '30s', '2m'",
                         **where)
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def parse_checks(raw: Any, where: dict) -> list[HealthCheck]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError("health: expected a list of checks", **where)
    checks = []
    for item in raw:
        if not isinstance(item, dict):
            raise InputError("a health check is a mapping like `http: URL`", **where)
        kinds = [k for k in item if k in KINDS]
        unknown = [k for k in item if k not in KINDS and k not in OPTIONS]
        if unknown:
            raise InputError(f"health check: unknown key {unknown[0]!r}"
                             f"{nearest(unknown[0], list(KINDS) + sorted(OPTIONS))}", **where)
        if len(kinds) != 1:
            raise InputError(f"a health check names exactly one of {', '.join(KINDS)}", **where)
        kind = kinds[0]
        status = item.get("status", 200)
        checks.append(HealthCheck(
            kind=kind,
            target=item[kind],
            name=str(item.get("name") or f"{kind} {item[kind]}"),
            status=tuple(status) if isinstance(status, list) else (int(status),),
            body=item.get("body"),
            timeout=parse_duration(item.get("timeout", 5), where, "timeout"),
            retries=int(item.get("retries", 2)),
            interval=parse_duration(item.get("interval", 1), where, "interval"),
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


def _python(name: str, host: str, variables: Mapping[str, Any]) -> tuple[bool, str]:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise InputError(f"no health check plugin {name!r} in entry points {ENTRY_POINT_GROUP}")
    outcome = found[0].load()(host, dict(variables))
    if isinstance(outcome, tuple):
        return bool(outcome[0]), str(outcome[1])
    return bool(outcome), f"{name}: {'ok' if outcome else 'failed'}"


CommandRunner = Callable[[str, str, float], tuple[bool, str]]


def run_check(check: HealthCheck, host: str, variables: Mapping[str, Any],
              run_command: CommandRunner) -> CheckResult:
    target = render_value(check.target, variables)
    attempts = 0
    while True:
        attempts += 1
        if check.kind == "http":
            ok, detail = _http(str(target), check)
        elif check.kind == "tcp":
            ok, detail = _tcp(str(target), check)
        elif check.kind == "command":
            ok, detail = run_command(host, str(target), check.timeout)
        else:
            ok, detail = _python(str(target), host, variables)
        if ok or attempts > check.retries:
            return CheckResult(check.name, host, ok, detail, attempts, time.time())
        time.sleep(check.interval)


def check_hosts(checks: list[HealthCheck], hosts: list[str],
                variables_for: Callable[[str], Variables],
                run_command: CommandRunner) -> dict[str, list[CheckResult]]:
    """Every check on every host, hosts in parallel; results keyed by host."""
    if not checks or not hosts:
        return {h: [] for h in hosts}

    def one_host(host: str) -> list[CheckResult]:
        variables = variables_for(host)
        return [run_check(c, host, variables, run_command) for c in checks]

    with ThreadPoolExecutor(max_workers=min(32, len(hosts))) as pool:
        return dict(zip(hosts, pool.map(one_host, hosts)))
