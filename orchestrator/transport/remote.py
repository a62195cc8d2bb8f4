"""Commands on hosts over SSH with fabric, host keys checked strictly, results as plain data.

Fabric trusts any host key by default; orc never does. A host that is unreachable, refuses our
key or shows an unknown key comes back as a `CommandResult` with a reason, like fabric's `Group`
results, so one bad host never hides the answers of the others.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import invoke
import paramiko
from fabric import Connection

# The words every part of orc uses for a host it could not use, so `orc run`, `orc facts` and
# rollouts explain the same failure the same way.
HOST_KEY_CHANGED = "host key changed: refusing to connect (known_hosts disagrees)"
HOST_KEY_UNKNOWN = "host key unknown: not in known_hosts"
AUTH_FAILED = "authentication failed"
TIMED_OUT = "unreachable: timed out"
REFUSED = "unreachable: connection refused"
CLOSED = "unreachable: connection closed by the host"

# paramiko's transport thread logs a traceback when a port does not speak SSH; the failure is
# the host's row instead
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False


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
    password: str | None = None
    become: bool = False
    become_user: str | None = None  # None: root
    become_password: str | None = None
    local: bool = False  # run on this machine instead of over SSH (Ansible's connection=local)


@dataclass(frozen=True)
class CommandResult:
    host: str
    exit_code: int | None  # None: the command never ran or never finished (see `error`)
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@functools.lru_cache(maxsize=64)
def _parsed_known_hosts(path: str, mtime_ns: int, size: int) -> tuple[Any, ...]:
    keys = paramiko.HostKeys()
    keys.load(path)
    return tuple(keys._entries)


def known_hosts(path: str) -> paramiko.HostKeys:
    """A known_hosts file's keys, parsed once per version of the file (path, mtime, size).

    paramiko's `HostKeys.load` checks each line against every line before it, so parsing a
    fleet's file on every connection is quadratic in the fleet: 0.27 s a connection at 1,000
    hosts. pyinfra reads it once per process too. Raises OSError when the file cannot be read.
    """
    stat = os.stat(path)
    keys = paramiko.HostKeys()
    keys._entries = list(_parsed_known_hosts(path, stat.st_mtime_ns, stat.st_size))
    return keys


def connect(target: Target, timeout: float = 10.0) -> Connection:
    keys = [target.key_file] if target.key_file else None
    conn = Connection(
        target.hostname,
        user=target.user,
        port=target.port,
        connect_timeout=max(1, int(timeout)),
        connect_kwargs={
            # fabric merges key_filename as a list: None there fails every connection
            **({"key_filename": keys} if keys else {}),
            "password": target.password,
            "allow_agent": keys is None and target.password is None,
            "look_for_keys": keys is None and target.password is None,
            "banner_timeout": timeout,
            "auth_timeout": timeout,
        },
    )
    if target.strict_host_key_checking:
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    if target.known_hosts_file:
        # the client's own copy of the parsed file: a policy that learns a key changes no other
        conn.client._host_keys = known_hosts(target.known_hosts_file)
        conn.client._host_keys_filename = target.known_hosts_file
    else:
        conn.client.load_system_host_keys()
    return conn


def run_command(
    target: Target,
    command: str,
    timeout: float = 10.0,
    *,
    command_timeout: float | None = None,
    connections: dict[str, Connection] | None = None,
) -> CommandResult:
    """Run `command` on one host; `timeout` bounds connecting and, unless `command_timeout` is
    given, the command too, so a host that hangs never holds a caller forever.

    With `connections`, the host's connection is taken from there (or opened and left there)
    and stays open for the next command, sparing a second SSH handshake to a host the caller
    comes back to (`close_connections` ends them); a connection that failed is dropped."""
    start = time.monotonic()
    limit = command_timeout if command_timeout is not None else timeout
    if target.local:
        return _run_local(target, command, limit)
    try:
        if connections is None:
            with connect(target, timeout) as conn:
                res = _execute(conn, target, command, limit)
                gone = lost_reason(conn.client) if res.exited != 0 else None
        else:
            conn = connections.get(target.name) or connect(target, timeout)
            connections[target.name] = conn
            try:
                res = _execute(conn, target, command, limit)
            except Exception:
                connections.pop(target.name, None)
                conn.close()
                raise
            gone = lost_reason(conn.client) if res.exited != 0 else None
            if gone is not None:
                connections.pop(target.name, None)
                conn.close()
    except invoke.CommandTimedOut as exc:
        return CommandResult(
            target.name, None, exc.result.stdout, exc.result.stderr,
            time.monotonic() - start, _timed_out(exc.timeout),
        )
    except Exception as exc:  # every failure becomes this host's row, never a crash
        return CommandResult(
            target.name, None, duration=time.monotonic() - start, error=describe(exc)
        )
    if gone is not None:  # the command "ended" because the connection did: not an answer
        return CommandResult(target.name, None, res.stdout, res.stderr,
                             time.monotonic() - start, gone)
    return CommandResult(
        target.name, res.exited, res.stdout, res.stderr, time.monotonic() - start
    )


def _execute(conn: Connection, target: Target, command: str, limit: float) -> invoke.Result:
    options = {"hide": True, "warn": True, "in_stream": False, "timeout": limit}
    if not target.become:
        return conn.run(command, **options)
    user = target.become_user or "root"
    if target.become_password is not None:
        return conn.sudo(_shell(command), user=user, password=target.become_password, **options)
    return conn.run(shlex.join(_sudo(user)) + " " + _shell(command), **options)


def _run_local(target: Target, command: str, limit: float) -> CommandResult:
    """This machine, with subprocess rather than invoke's runner, whose pipe reads break
    under gevent's monkey patching (the `orc` executable patches)."""
    argv = ["sh", "-c", command]
    password = None
    if target.become:
        user = target.become_user or "root"
        password = target.become_password
        argv = _sudo(user, password is not None) + argv
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, text=True, start_new_session=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if password is not None else subprocess.DEVNULL,
        )
    except OSError as exc:
        return CommandResult(target.name, None, duration=time.monotonic() - start,
                             error=f"cannot run locally: {exc.strerror}")
    with proc:
        try:
            out, err = proc.communicate(f"{password}\n" if password is not None else None,
                                        timeout=limit)
        except subprocess.TimeoutExpired:
            out, err = _stop(proc)
            return CommandResult(target.name, None, out, err, time.monotonic() - start,
                                 _timed_out(limit))
    return CommandResult(target.name, proc.returncode, out, err, time.monotonic() - start)


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    """End a local command and everything it started; what it printed so far is kept."""
    # TERM first: sudo passes it on to the command, which KILL to sudo itself would not
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            return proc.communicate(timeout=2)
        except ProcessLookupError:
            return proc.communicate()
        except subprocess.TimeoutExpired:
            continue
    return proc.communicate()


def _sudo(user: str, password_on_stdin: bool = False) -> list[str]:
    # without a password, `-n` fails at once instead of waiting at a prompt nobody answers
    prompt = ["-S", "-p", ""] if password_on_stdin else ["-n"]
    return ["sudo", *prompt, "-H", "-u", user, "--"]


def _shell(command: str) -> str:
    # sudo applies to one program; a shell makes it cover pipelines and `&&` lists too
    return f"sh -c {shlex.quote(command)}"


def _timed_out(limit: float) -> str:
    return f"command timed out after {limit:g} s"


def run_many(
    targets: list[Target],
    command: str,
    *,
    forks: int = 20,
    timeout: float = 10.0,
    command_timeout: float | None = None,
    connections: dict[str, Connection] | None = None,
) -> dict[str, CommandResult]:
    """Run `command` on every target in parallel; results keyed by host name, in target order.
    `connections`: as `run_command`'s, kept open for a later command."""
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(targets)))) as pool:
        results = list(pool.map(
            lambda t: run_command(t, command, timeout, command_timeout=command_timeout,
                                  connections=connections), targets
        ))
    return {r.host: r for r in results}


def close_connections(connections: dict[str, Connection]) -> None:
    """Close the connections `run_command` kept open, and forget them."""
    while connections:
        _, conn = connections.popitem()
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - a connection already gone needs no closing
            pass


def lost_reason(client: paramiko.SSHClient | None) -> str | None:
    """Why an SSH connection that was open is gone (its host vanished, sshd died), in the
    words of `describe`; None while it is up, or when it never was (connecting says why).

    A command whose connection drops ends with no exit status and whatever it printed last,
    which would read as the command's own failure; paramiko keeps what ended its reader."""
    transport = client.get_transport() if client is not None else None
    if transport is None or transport.is_active():
        return None
    error = transport.saved_exception
    if error is None or isinstance(error, EOFError):
        return CLOSED
    return describe(error) if isinstance(error, OSError) else f"{CLOSED} ({describe(error)})"


def connect_reason(message: str) -> str:
    """pyinfra's connect errors (a `ConnectError`'s text) in the words of `describe`."""
    lowered = message.lower()
    if "host key error" in lowered:
        return HOST_KEY_CHANGED
    if "no host key" in lowered and "known_hosts" in lowered:
        return HOST_KEY_UNKNOWN
    if lowered.startswith("authentication error"):
        return AUTH_FAILED
    if "timed out" in lowered:
        return TIMED_OUT
    inner = re.search(r"\((?:\[Errno \d+\] )?(.*)\)\s*$", message)
    detail = inner.group(1) if inner else message
    if "unable to connect" in detail.lower():  # paramiko's wording for a refused port
        detail = "connection refused"
    return f"unreachable: {detail[:1].lower()}{detail[1:]}"


def describe(exc: BaseException) -> str:
    """One line a user can act on, for whatever went wrong reaching a host."""
    if isinstance(exc, paramiko.BadHostKeyException):
        return HOST_KEY_CHANGED
    if isinstance(exc, paramiko.AuthenticationException):
        return AUTH_FAILED
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        return HOST_KEY_UNKNOWN
    if isinstance(exc, invoke.AuthFailure):
        return "become failed: sudo refused the password"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TIMED_OUT
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        # it wraps one error per address tried; the first says why (refused, no route...)
        first = next(iter(exc.errors.values()), None)
        reason = getattr(first, "strerror", None)
        return f"unreachable: {reason.lower()}" if reason else REFUSED
    if isinstance(exc, socket.gaierror):
        return f"unreachable: cannot resolve host name ({exc.strerror})"
    if isinstance(exc, OSError) and exc.filename:
        return f"cannot read {exc.filename}: {exc.strerror}"
    if isinstance(exc, OSError):
        return f"unreachable: {exc.strerror or exc}"
    name = type(exc).__name__
    text = str(exc).strip().splitlines()
    return f"{name}: {text[0]}" if text else name
