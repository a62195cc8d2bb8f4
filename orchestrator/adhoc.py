"""Ad-hoc commands: one shell command on the hosts a pattern selects, answers grouped.

The everyday on-call move is "run this everywhere and tell me who disagrees". So besides the
per-host results, hosts that answered exactly the same way are collapsed into one group: thirty
identical lines become one line and the odd host out stands alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import InputError
from orchestrator.inventory import Inventory, match
from orchestrator.transport.remote import CommandResult, run_many
from orchestrator.transport.targets import target_for

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class CommandOptions:
    """How `orc run` reaches hosts and runs its command (a playbook run's options are
    `engine.options.RunOptions`)."""

    forks: int = 20
    timeout: float = 10.0  # connecting: a stopped host is reported after this long
    command_timeout: float | None = 600.0  # a command that hangs is cut off, not waited on
    become: bool | None = None  # None: as the inventory says (ansible_become)
    become_user: str | None = None


@dataclass(frozen=True)
class OutputGroup:
    """Hosts that answered identically: same exit code, same error, same stdout and stderr."""

    hosts: tuple[str, ...]
    exit_code: int | None
    error: str | None
    stdout: str
    stderr: str
    durations: tuple[float, ...]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class AdhocRun:
    pattern: str
    command: str
    results: dict[str, CommandResult]  # by host, in inventory order
    groups: list[OutputGroup] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    def counts(self) -> dict[str, int]:
        """How many hosts succeeded, ran the command and failed, or never ran it."""
        values = self.results.values()
        return {
            "ok": sum(r.ok for r in values),
            "failed": sum(r.exit_code not in (0, None) for r in values),
            "error": sum(r.exit_code is None for r in values),
        }


def select_hosts(inventory: Inventory, pattern: str) -> list[str]:
    """The hosts `pattern` names; naming none is an error, since running on nothing is a typo."""
    selection = match(inventory, pattern)
    if not selection.hosts:
        raise InputError(f"no host in the inventory matches {pattern!r}")
    for term in selection.unmatched:
        log.warning("host pattern term %r matched no host and no group", term)
    return selection.hosts


def run(
    inventory: Inventory, pattern: str, command: str, options: CommandOptions = CommandOptions()
) -> AdhocRun:
    """Run `command` on every host `pattern` selects; unreachable hosts are results too."""
    if not command.strip():
        raise InputError("no command given: put it after `--`, e.g. `orc run all -- uptime`")
    targets = [target_for(inventory, name, become=options.become, become_user=options.become_user)
               for name in select_hosts(inventory, pattern)]
    results = run_many(
        targets, command, forks=options.forks, timeout=options.timeout,
        command_timeout=options.command_timeout,
    )
    return AdhocRun(pattern, command, results, group_outputs(results.values()))


def group_outputs(results: Iterable[CommandResult]) -> list[OutputGroup]:
    """Collapse identical answers; groups come in the order of their first host."""
    grouped: dict[tuple[Any, ...], list[CommandResult]] = {}
    for result in results:
        key = (result.exit_code, result.error, result.stdout, result.stderr)
        grouped.setdefault(key, []).append(result)
    return [
        OutputGroup(
            hosts=tuple(r.host for r in members),
            exit_code=exit_code,
            error=error,
            stdout=stdout,
            stderr=stderr,
            durations=tuple(r.duration for r in members),
        )
        for (exit_code, error, stdout, stderr), members in grouped.items()
    ]
