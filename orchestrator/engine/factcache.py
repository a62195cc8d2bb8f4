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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# arguments that change how a command's output is shown, never what it prints
_DISPLAY_ONLY = frozenset({"print_output", "print_input"})


def _key(command: Any, kwargs: dict[str, Any]) -> tuple[str, str] | None:
    raw = command.get_raw_value() if hasattr(command, "get_raw_value") else command
    if not isinstance(raw, str):
        return None
    arguments = sorted((k, repr(v)) for k, v in kwargs.items() if k not in _DISPLAY_ONLY)
    return raw, repr(arguments)


@contextmanager
def facts_read_once(host: Any) -> Iterator[dict[tuple[str, str], Any]]:
    """Within the block, a fact command `host` already answered is answered from memory."""
    answers: dict[tuple[str, str], Any] = {}
    depth = 0
    get_fact, run_shell_command = host.get_fact, host.run_shell_command

    def reading_fact(*args: Any, **kwargs: Any) -> Any:
        nonlocal depth
        depth += 1
        try:
            return get_fact(*args, **kwargs)
        finally:
            depth -= 1

    def run_once(command: Any, *args: Any, **kwargs: Any) -> Any:
        key = _key(command, kwargs) if depth and not args else None
        if key is None:
            return run_shell_command(command, *args, **kwargs)
        if key not in answers:
            status, output = run_shell_command(command, **kwargs)
            if not status:
                return status, output
            answers[key] = (status, output)
        return answers[key]

    host.get_fact, host.run_shell_command = reading_fact, run_once
    try:
        yield answers
    finally:
        del host.get_fact, host.run_shell_command
