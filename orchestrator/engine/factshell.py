"""Fact commands of one host read through one shell on its SSH connection, not one exec each.

pyinfra runs every command on a new SSH channel (`SSHConnector.run_shell_command`: open a
channel, exec `sh -c`, read, close), so a fact costs a few network round trips and a new shell
on the host; an operation reads its facts one after the other, so a host's run is a chain of
them. A fact only reads: `FactShell` keeps one `sh` running per set of connector arguments on
the connection pyinfra already holds (`SSHConnector.client`), started with the same wrapper
pyinfra would put around the command (`make_unix_command_for_host`: sudo, su, env, chdir), and
writes each fact command to it. The shell runs each in its own subshell with stdin from
/dev/null, as `sh -c` would, and prints its exit status and its stdout and stderr whole
(base64): the answer is what the command's own channel would have read, split into lines as
pyinfra's connector splits them. One channel, one remote process, for all of a host's fact
reads while it runs.

Operations' own commands never go through it: they keep pyinfra's path (output printing, sudo
password retry, timeouts). A read the shell cannot take as pyinfra would is left to pyinfra:
a password, stdin, a pty, a timeout or retries, another shell than `sh`, a connector without
an SSH client. A shell that cannot start or stops answering (sudo wants a password, the
channel closes) is dropped for its arguments and the read falls back to pyinfra's own.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.connectors.util import CommandOutput, OutputLine, make_unix_command_for_host

from orchestrator.engine.factcache import split_lines

_MARK = b"@@orc-fact "
# connector arguments the shell reproduces (its start wrapper), or that change nothing read
_TAKEN = frozenset({
    "_sudo", "_sudo_user", "_use_sudo_login", "_preserve_sudo_env", "_su_user", "_use_su_login",
    "_preserve_su_env", "_su_shell", "_doas", "_doas_user", "_dzdo", "_dzdo_user", "_chdir",
    "_env", "_shell_executable", "_success_exit_codes", "_retry_delay", "_temp_dir",
    "print_output", "print_input",
})
_EMPTY = (None, False, 0, "", (), [], {})
_START = b"d=$(mktemp -d) || exit 97\ntrap 'rm -rf \"$d\"' EXIT\n"


class _Shell:
    def __init__(self, channel: Any):
        self.channel = channel
        self.out = channel.makefile("rb")
        # one read at a time: two greenlets writing to one shell would mix their answers
        self.lock = threading.Lock()
        self.count = 0  # reads asked for: each answer names its read

    def read(self, raw: str) -> tuple[int, str, str]:
        """`raw`'s exit status, stdout and stderr. Each answer carries its read's number, and
        an answer to another read (one whose reader stopped waiting) is never taken for it."""
        with self.lock:
            self.count += 1
            mark = _MARK + b"%d " % self.count
            script = (f'( {raw}\n) </dev/null >"$d/o" 2>"$d/e"; r=$?; '
                      f'printf "%s %s " "{mark.decode().strip()}" "$r"; base64 -w0 <"$d/o"; '
                      'printf " "; base64 -w0 <"$d/e"; echo\n')
            self.channel.sendall(script.encode())
            while True:
                line = self.out.readline()
                if not line:
                    raise EOFError("the fact shell ended")
                if line.startswith(mark):
                    break
        code, out, err = line[len(mark):].rstrip(b"\n").split(b" ")
        return (int(code), base64.b64decode(out).decode("utf-8", "replace"),
                base64.b64decode(err).decode("utf-8", "replace"))

    def close(self) -> None:
        try:
            self.channel.shutdown_write()  # the shell reads EOF and exits, its trap cleans up
            self.channel.close()
        except Exception:  # noqa: BLE001 - a channel already gone needs no closing
            pass


class FactShell:
    """The fact shells of one pyinfra host, one per set of connector arguments, started on
    first use and ended by `close`."""

    def __init__(self, host: Any):
        self.host = host
        self.shells: dict[str, _Shell | None] = {}  # None: this set cannot have one
        self.starting = threading.Lock()

    def read(self, command: Any, kwargs: dict[str, Any]) -> tuple[bool, CommandOutput] | None:
        """`command`'s answer as `host.run_shell_command(command, **kwargs)` would give it, or
        None when the shell cannot give it (then pyinfra's own path must)."""
        raw = command.get_raw_value() if hasattr(command, "get_raw_value") else command
        if not isinstance(raw, str) or any(
                k not in _TAKEN and v not in _EMPTY for k, v in kwargs.items()):
            return None
        if kwargs.get("_shell_executable") not in (None, "sh"):
            return None
        # what pyinfra's connector passes on to the command's wrapper (it takes the others)
        start = {k: v for k, v in kwargs.items() if k not in (
            "_success_exit_codes", "print_output", "print_input", "_get_pty", "_timeout",
            "_stdin")}
        key = repr(sorted((k, repr(v)) for k, v in start.items()))
        with self.starting:  # one shell per set, however many ask for it at once
            if key not in self.shells:
                self.shells[key] = self._start(start)
        shell = self.shells[key]
        if shell is None:
            return None
        try:
            code, out, err = shell.read(raw)
        except Exception:  # noqa: BLE001 - gone or garbled: pyinfra reads from now on
            shell.close()
            self.shells[key] = None
            return None
        except BaseException:  # its greenlet killed mid-read: the shell is not trusted again
            shell.close()
            self.shells[key] = None
            raise
        codes = kwargs.get("_success_exit_codes") or [0]
        lines = [*(OutputLine("stdout", x) for x in split_lines(out)),
                 *(OutputLine("stderr", x) for x in split_lines(err))]
        return code in codes, CommandOutput(lines)

    def _start(self, arguments: dict[str, Any]) -> _Shell | None:
        client = getattr(self.host.connector, "client", None)
        transport = client.get_transport() if client is not None else None
        if transport is None or not transport.is_active():
            return None
        shell = None
        try:
            wrapped = make_unix_command_for_host(self.host.state, self.host,
                                                 StringCommand("exec sh"), **arguments)
            channel = transport.open_session()
            shell = _Shell(channel)
            channel.exec_command(wrapped.get_raw_value())
            channel.sendall(_START)
            code, out, _ = shell.read("echo ready")
        except Exception:  # noqa: BLE001 - no shell here (sudo wants a password...): pyinfra's
            if shell is not None:
                shell.close()
            return None
        if code != 0 or out != "ready\n":
            shell.close()
            return None
        return shell

    def close(self) -> None:
        for shell in self.shells.values():
            if shell is not None:
                shell.close()
        self.shells.clear()
