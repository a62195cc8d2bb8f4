"""Converge a scenario's hosts, and judge the second converge for idempotence.

A converge is a real `orc apply` of a generated one-play playbook (the scenario's roles, vars and
vars_files on all its hosts). The playbook is loaded as if it sat at the project's root, where a
real playbook would be: roles, vars_files and the signer policy of secrets resolve from there.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.engine.results import CHANGED, FAILED, RunResult
from orchestrator.errors import InputError
from orchestrator.events import Listener
from orchestrator.engine.options import RunOptions
from orchestrator.engine.run import run_playbook
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.load.playbook import Playbook, load_playbook
from orchestrator.load.tasks import flatten
from orchestrator.roletest.scenario import Scenario

NOTEST_TAG = "orc-idempotence-notest"


@dataclass(frozen=True)
class Offence:
    """A task that failed a converge, or changed something on the second one."""

    host: str
    task: str
    where: str  # file:line of the task
    status: str  # changed | failed | unreachable
    error: str | None = None

    def line(self, project: Path | None = None) -> str:
        """One line naming the task by file:line (relative to the project when inside it)."""
        where = self.where
        if where and project is not None and where.startswith(f"{project}{os.sep}"):
            where = where[len(str(project)) + 1:]
        text = f"{where}: task {self.task!r} {self.status} on {self.host}" if where \
            else f"{self.host}: {self.status}"
        return text + (f": {self.error}" if self.error else "")


def converge_play(scenario: Scenario) -> list[dict[str, Any]]:
    play: dict[str, Any] = {"name": f"converge {scenario.label}", "hosts": "all"}
    if scenario.vars:
        play["vars"] = scenario.vars
    if scenario.vars_files:
        play["vars_files"] = list(scenario.vars_files)
    play["roles"] = list(scenario.roles)
    return [play]


def load_converge(scenario: Scenario, inventory_path: Path) -> tuple[Playbook, Inventory]:
    """The converge playbook and the test hosts' inventory, checked before any host is touched.

    The playbook file exists only while it is loaded: what a run needs from it is in memory.
    """
    fd, name = tempfile.mkstemp(prefix=".orc-test-", suffix=".yaml", dir=scenario.project)
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(converge_play(scenario), out, sort_keys=False)
        book = load_playbook(path)
    except InputError as err:
        if err.path != str(path):
            raise
        # a bad role entry in the scenario: point at the scenario, not the generated file
        raise InputError(err.message, path=scenario.path or scenario.role_dir) from None
    finally:
        path.unlink(missing_ok=True)
    inventory = load_inventory([str(inventory_path)], playbook_dir=scenario.project)
    return book, inventory


def converge(book: Playbook, inventory: Inventory, on_event: Listener | None = None,
             extra_vars: dict[str, Any] | None = None) -> RunResult:
    return run_playbook(book, inventory, RunOptions(extra_vars=dict(extra_vars or {})),
                        on_event=on_event)


def failures(run: RunResult) -> list[Offence]:
    """Failed tasks and unreachable hosts of a converge."""
    found: list[Offence] = []
    for play in run.plays:
        for host in play.hosts.values():
            if host.error and (host.unreachable or not any(t.status == FAILED
                                                            for t in host.tasks)):
                # unreachable, or stopped (its preparation, its run): a failure either way
                found.append(Offence(host.host, "", "", "unreachable" if host.unreachable
                                     else FAILED, host.error))
            found += [Offence(host.host, t.name, t.where, FAILED, t.error)
                      for t in host.tasks if t.status == FAILED]
    return found


def excepted_tasks(book: Playbook) -> set[str]:
    """file:line of every task and handler tagged `orc-idempotence-notest` (role tags count)."""
    excepted: set[str] = set()
    for play in book.plays:
        for ref, role in play.roles:
            for task in flatten(role.tasks + role.handlers):
                if NOTEST_TAG in task.tags | ref.tags:
                    excepted.add(task.where)
        for task in flatten(play.pre_tasks + play.tasks + play.post_tasks + play.handlers):
            if NOTEST_TAG in task.tags:
                excepted.add(task.where)
    return excepted


def counted_changes(book: Playbook, run: RunResult) -> list[Offence]:
    """The changes a converge made that count against idempotence: every changed task but
    those tagged `orc-idempotence-notest`.

    A handler that ran only because excepted tasks changed is a consequence of them, and is
    excepted with them.
    """
    excepted = excepted_tasks(book)
    found: list[Offence] = []
    for play in run.plays:
        for host in play.hosts.values():
            changed = [t for t in host.tasks if t.status == CHANGED and t.where not in excepted]
            if all(t.handler for t in changed):
                changed = []
            found += [Offence(host.host, t.name, t.where, CHANGED) for t in changed]
    return found


def idempotence_offences(book: Playbook, second: RunResult) -> list[Offence]:
    """What the second converge changed (or failed), less the tasks excepted by their tag."""
    return failures(second) + counted_changes(book, second)
