"""Health checks that gate a wave: `http` and `tcp` from the controller, `command` on the host
over SSH, and Python checks from the `orc.health_checks` entry point group.

Each check has a timeout, a number of retries and an interval between tries; a host is healthy
when every check passes. Checks are plain data (`HealthCheck`, read with the playbook by
`orchestrator.load.policy`), results too (`CheckResult`), so a report can say which check failed
on which host and why. A host unhealthy before a run is not expected healthy after its rollback:
`health_before` and `unhealthy_unlike_before` carry that rule.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.errors import OrcError
from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Play
from orchestrator.load.policy import HealthCheck, health_plugin
from orchestrator.templating.render import Variables, render_value
from orchestrator.transport.remote import run_command as remote_command
from orchestrator.transport.targets import target_for


@dataclass(frozen=True)
class CheckResult:
    check: str
    host: str
    ok: bool
    detail: str
    attempts: int
    at: float  # wall-clock time of the last attempt


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
    outcome = health_plugin(name).load()(host, dict(variables))
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


def variables_for(play: Play, inventory: Inventory) -> Callable[[str], Variables]:
    """What a check's templates see on a host: its inventory variables and the play's."""
    def variables(host: str) -> Variables:
        host_vars = inventory.host_vars(host)
        return Variables({**host_vars, **play.vars, "inventory_hostname": host,
                          "ansible_host": host_vars.get("ansible_host", host)})
    return variables


def command_runner(inventory: Inventory, connections: dict[str, Any] | None = None
                   ) -> CommandRunner:
    """`command:` checks over SSH to the inventory's hosts, a failure in one line;
    `connections`: open ones to use (the rollout's host locks hold them), by host name."""
    def run(host: str, command: str, timeout: float) -> tuple[bool, str]:
        result = remote_command(target_for(inventory, host), command, timeout,
                                connections=connections)
        if result.exit_code is None:
            return False, f"`{command}`: {result.error}"
        output = (result.stdout + result.stderr).strip().splitlines()
        return result.ok, f"`{command}`: exit {result.exit_code}" + (
            f" ({output[-1]})" if output else "")
    return run


def unhealthy(health: dict[str, list[CheckResult]]) -> dict[str, str]:
    """Each host with a failed check, and the first failure's detail."""
    return {host: next(r.detail for r in results if not r.ok)
            for host, results in health.items() if any(not r.ok for r in results)}


def unhealthy_unlike_before(health: dict[str, list[CheckResult]],
                            before: dict[str, bool]) -> dict[str, str]:
    """`unhealthy(health)` but for the hosts that were unhealthy before the run too (a
    rollback restores the state before the run, health included); a host whose health
    before is unknown is expected healthy."""
    return {h: why for h, why in unhealthy(health).items() if before.get(h, True)}


def health_before(waves: list[Any]) -> dict[int, dict[str, bool]]:
    """Per play index, each host's health before the run first changed it (its first wave);
    `waves` are `run.WaveReport`s or their dicts as the run index keeps them."""
    found: dict[int, dict[str, bool]] = {}
    for wave in waves:
        data = wave if isinstance(wave, dict) else asdict(wave)
        for host, ok in (data.get("health_before") or {}).items():
            found.setdefault(data["play_index"], {}).setdefault(host, ok)
    return found


def check_play_health(play: Play, inventory: Inventory, hosts: list[str]
                      ) -> dict[str, list[CheckResult]]:
    """The play's health checks (with their retries) on `hosts`, e.g. after a rollback."""
    checks = list(play.policy.health)
    if not checks or not hosts:
        return {}
    return check_hosts(checks, hosts, variables_for(play, inventory), command_runner(inventory))


def hosts_healthy(play: Play, inventory: Inventory, hosts: list[str],
                  connections: dict[str, Any] | None = None) -> dict[str, bool]:
    """Each host: whether the play's health checks pass on it (empty without checks), as a
    wave's hosts are checked before the wave changes them (over `connections`, as
    `command_runner`)."""
    if not play.policy.health:
        return {}
    before = check_hosts(list(play.policy.health), hosts, variables_for(play, inventory),
                         command_runner(inventory, connections))
    return {h: h not in unhealthy({h: rs}) for h, rs in before.items()}
