"""Commands on hosts over SSH with fabric, host keys checked strictly, results as plain data.

Fabric trusts any host key by default; orc never does. A host that is unreachable, refuses our
key or shows an unknown key comes back as a `CommandResult` with a reason, like fabric's `Group`
results, so one bad host never hides the answers of the others.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import paramiko
from fabric import Connection


@dataclass(frozen=True)
class Target:
    """Where and how to reach one host."""

    name: str
    hostname: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    known_hosts_file: str | None = None
    strict_host_key_checking: bool = True


@dataclass(frozen=True)
class CommandResult:
    host: str
    exit_code: int | None  # None: the command never ran (see `error`)
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def connect(target: Target, timeout: float = 10.0) -> Connection:
    conn = Connection(
        target.hostname,
        user=target.user,
        port=target.port,
        connect_timeout=max(1, int(timeout)),
        connect_kwargs={
            "key_filename": [target.key_file] if target.key_file else None,
            "allow_agent": target.key_file is None,
            "look_for_keys": target.key_file is None,
            "banner_timeout": timeout,
            "auth_timeout": timeout,
        },
    )
    if target.strict_host_key_checking:
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    if target.known_hosts_file:
        conn.client.load_host_keys(target.known_hosts_file)
    else:
        conn.client.load_system_host_keys()
    return conn


def run_command(target: Target, command: str, timeout: float = 10.0) -> CommandResult:
    start = time.monotonic()
    try:
        with connect(target, timeout) as conn:
            res = conn.run(command, hide=True, warn=True, in_stream=False, timeout=timeout)
    except Exception as exc:  # every failure becomes this host's row, never a crash
        return CommandResult(
            target.name, None, duration=time.monotonic() - start, error=describe(exc)
        )
    return CommandResult(
        target.name, res.exited, res.stdout, res.stderr, time.monotonic() - start
    )


def run_many(
    targets: list[Target], command: str, *, forks: int = 20, timeout: float = 10.0
) -> dict[str, CommandResult]:
    """Run `command` on every target in parallel; results keyed by host name, in target order."""
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(targets)))) as pool:
        results = list(pool.map(lambda t: run_command(t, command, timeout), targets))
    return {r.host: r for r in results}


def describe(exc: BaseException) -> str:
    """One line a user can act on, for whatever went wrong reaching a host."""
    if isinstance(exc, paramiko.BadHostKeyException):
        return "host key changed: refusing to connect (known_hosts disagrees)"
    if isinstance(exc, paramiko.AuthenticationException):
        return "authentication failed"
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        return "host key unknown: not in known_hosts"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "unreachable: timed out"
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return "unreachable: connection refused"
    if isinstance(exc, OSError):
        return f"unreachable: {exc.strerror or exc}"
    name = type(exc).__name__
    text = str(exc).strip().splitlines()
    return f"{name}: {text[0]}" if text else name
