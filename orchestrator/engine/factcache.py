"""Each fact read once per host while a play's operations are added, never while they run.

Adding operations with change detection on runs every operation's generator against the host's
facts, and several operations read the same fact (`cat /etc/group` for every group and user
task, the `stat` of a parent directory for every file in it, `uname -s` for each `sysctl`).
While operations are being added nothing runs on the host: no command of any operation has been
executed yet, so a fact's command prints the same thing each time it is read, and the first
answer can stand for the others. Once `run_ops` starts, operations change the host and facts
must be read afresh, as pyinfra does (it keeps no fact cache), so the cache only lives around
the adding of one host's operations.

The cache sits on the host's `run_shell_command`, keyed by the exact command and its connector
arguments (sudo, user, environment...), and only for commands issued by `get_fact`: anything
else a Python role's deploy code runs directly is left alone. Only successful reads are kept.

Hosts of a play mostly read the same facts (the same tasks ask about the same paths, users and
services), so one host's reads predict the others': `read_together` runs the fact commands
another host needed on this host in one remote command (one per set of connector arguments)
and answers each exactly as its own command would have (exit status, stdout and stderr lines,
split as pyinfra's connector splits them). A fact the prediction missed is read on its own, and
a prediction that fails as a whole is dropped, so an answer is never guessed.
"""

from __future__ import annotations

import base64
import io
import tarfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.connectors.util import CommandOutput, OutputLine

# arguments that change how a command's output is shown, never what it prints
_DISPLAY_ONLY = frozenset({"print_output", "print_input"})


def _key(command: Any, kwargs: dict[str, Any]) -> tuple[str, str] | None:
    raw = command.get_raw_value() if hasattr(command, "get_raw_value") else command
    if not isinstance(raw, str):
        return None
    arguments = sorted((k, repr(v)) for k, v in kwargs.items() if k not in _DISPLAY_ONLY)
    return raw, repr(arguments)


# what a host read: (command, connector arguments), in order, for `read_together` elsewhere
Reads = list[tuple[Any, dict[str, Any]]]


@contextmanager
def _fact_commands(host: Any, read: Callable[[Any, dict[str, Any], Callable[..., Any]], Any]
                   ) -> Iterator[None]:
    """Within the block, each command `host` runs for a fact (`get_fact`, pyinfra's loader
    running it through `run_shell_command`) is answered by `read(command, kwargs, run)`,
    `run` being the host's own `run_shell_command`; every other command keeps that path."""
    depth = 0
    get_fact, run_shell_command = host.get_fact, host.run_shell_command

    def reading_fact(*args: Any, **kwargs: Any) -> Any:
        nonlocal depth
        depth += 1
        try:
            return get_fact(*args, **kwargs)
        finally:
            depth -= 1

    def run(command: Any, *args: Any, **kwargs: Any) -> Any:
        if depth and not args:
            return read(command, kwargs, run_shell_command)
        return run_shell_command(command, *args, **kwargs)

    host.get_fact, host.run_shell_command = reading_fact, run
    try:
        yield
    finally:
        del host.get_fact, host.run_shell_command


@contextmanager
def facts_read_once(host: Any, known: dict[tuple[str, str], Any] | None = None,
                    reads: Reads | None = None, asked: Reads | None = None,
                    shell: Any = None) -> Iterator[dict[tuple[str, str], Any]]:
    """Within the block, a fact command `host` already answered is answered from memory.
    `known`: answers read beforehand (`read_together`); `reads` collects each fact command
    this host had to run itself, `asked` each one it asked for (answered from memory or not),
    once, in order; `shell`: the host's `factshell.FactShell`, which reads what must be read."""
    answers: dict[tuple[str, str], Any] = dict(known or {})
    seen: set[tuple[str, str]] = set()

    def read_once(command: Any, kwargs: dict[str, Any], run: Callable[..., Any]) -> Any:
        key = _key(command, kwargs)
        if key is None:
            return run(command, **kwargs)
        if asked is not None and key not in seen:
            seen.add(key)
            asked.append((command, dict(kwargs)))
        if key not in answers:
            answer = shell.read(command, kwargs) if shell is not None else None
            status, output = answer or run(command, **kwargs)
            if reads is not None:
                reads.append((command, dict(kwargs)))
            if not status:
                return status, output
            answers[key] = (status, output)
        return answers[key]

    with _fact_commands(host, read_once):
        yield answers


@contextmanager
def facts_through(hosts: list[Any], shells: dict[str, Any]) -> Iterator[None]:
    """Within the block (operations running), each fact an operation reads on a host of
    `hosts` goes through that host's shell in `shells` (`factshell.FactShell`), read afresh
    each time as pyinfra reads it; every other command keeps pyinfra's path."""
    with ExitStack() as stack:
        for host in hosts:
            shell = shells.get(host.name)
            if shell is not None:
                stack.enter_context(_fact_commands(
                    host, lambda command, kwargs, run, shell=shell:
                    shell.read(command, kwargs) or run(command, **kwargs)))
        yield


def read_together(host: Any, reads: Reads, shell: Any = None) -> dict[tuple[str, str], Any]:
    """Run `reads` (fact commands, as another host's `facts_read_once` collected them) on
    `host` in one command per set of connector arguments (through `shell`, the host's
    `factshell.FactShell`, when it takes them); the answers, keyed as `facts_read_once` keys
    them, only for commands that succeeded. A batch that fails as a whole (no shell tools, a
    sudo refusal, a lost connection) answers nothing."""
    groups: dict[str, list[tuple[tuple[str, str], str, dict[str, Any]]]] = {}
    for command, kwargs in reads:
        key = _key(command, kwargs)
        if key is None:
            continue
        group = groups.setdefault(key[1], [])
        if all(key != k for k, _, _ in group):
            group.append((key, key[0], kwargs))
    answers: dict[tuple[str, str], Any] = {}
    for group in groups.values():
        if len(group) < 2:
            continue  # one command alone is read as it is, when it is asked for
        try:
            answers.update(_read_group(host, group, shell))
        except Exception:  # noqa: BLE001 - the prediction is dropped; each fact reads itself
            continue
    return answers


def _read_group(host: Any, group: list[tuple[tuple[str, str], str, dict[str, Any]]],
                shell: Any = None) -> dict[tuple[str, str], Any]:
    # each command in its own subshell, as its own `sh -c` would run it, its output kept whole
    # in files; the files come back as one tar stream (two processes, not two per command)
    lines = ['d=$(mktemp -d) || exit 97', 'trap \'rm -rf "$d"\' EXIT']
    for index, (_, raw, _) in enumerate(group):
        lines.append(f'( {raw}\n) </dev/null >"$d/{index}.o" 2>"$d/{index}.e"; '
                     f'echo $? >"$d/{index}.r"')
    lines.append('cd "$d" && tar -cf - -- *.o *.e *.r | base64 -w0')
    kwargs = {k: v for k, v in group[0][2].items() if k not in _DISPLAY_ONLY}
    codes = kwargs.pop("_success_exit_codes", None) or [0]
    script = StringCommand("\n".join(lines))
    answer = shell.read(script, kwargs) if shell is not None else None
    status, output = answer or host.run_shell_command(script, **kwargs)
    if not status or len(output.stdout_lines) != 1:
        return {}
    files: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(output.stdout_lines[0]))) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member) if member.isfile() else None
            if data is not None:
                files[member.name.removeprefix("./")] = data.read().decode("utf-8", "replace")
    answers: dict[tuple[str, str], Any] = {}
    for index, (key, _, _) in enumerate(group):
        code = files.get(f"{index}.r", "").strip()
        if not code.isdigit() or int(code) not in codes:
            continue  # failed, or not there: read on its own when asked
        found = [*(OutputLine("stdout", x) for x in split_lines(files.get(f"{index}.o", ""))),
                 *(OutputLine("stderr", x) for x in split_lines(files.get(f"{index}.e", "")))]
        answers[key] = (True, CommandOutput(found))
    return answers


def split_lines(text: str) -> list[str]:
    """Lines as pyinfra's connector reads a buffer: split at newlines, each without its own."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return parts
