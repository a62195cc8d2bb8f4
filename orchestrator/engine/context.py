"""What every host's program of one play shares (`PlayRun`), and where a task sits in it
(`Scope`): its role, inherited tags and conditions, an include's `vars`; with the variables a
task sees on a host, layered as Ansible layers them (engine/variables.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.engine.hostrun import HostRun
from orchestrator.engine.options import RunOptions
from orchestrator.engine.variables import task_variables
from orchestrator.events import Listener, ignore
from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Play
from orchestrator.load.tasks import Task
from orchestrator.templating.render import Variables
from orchestrator.transport.session import Session

@dataclass
class PlayRun:
    """What every host's program of one play shares."""

    play: Play
    inventory: Inventory
    session: Session
    base: dict[str, Any]
    options: RunOptions
    play_become: bool | None
    included: dict[str, list[Any]] = field(default_factory=dict)  # path -> tasks, loaded once
    extra_roles: list[tuple[Any, Any]] = field(default_factory=list)  # from include_role
    emit: Listener = ignore  # the run's events (debug messages)

    def role_of(self, task: Task) -> tuple[Any, Any]:
        """The role entry and role a task (or handler) belongs to, (None, None) for the play's."""
        found = self.play.role_of(task)  # from `roles:` or an import_role
        if found is not None:
            return found
        for ref, role in self.extra_roles:
            if role.name == task.role:
                return ref, role
        return None, None


@dataclass
class Scope:
    """Where a task sits: its role, the tags and conditions it inherits from its role entry or
    include, and an include's own `vars`."""

    ref: Any = None
    role: Any = None
    tags: frozenset[str] = frozenset()
    when: Any = None
    vars: dict[str, Any] = field(default_factory=dict)


def variables_for(ctx: PlayRun, run: HostRun, task: Task, scope: Scope) -> Variables:
    item = task if not scope.vars else replace(task, vars={**scope.vars, **task.vars})
    ref, role = scope.ref, scope.role
    if task.role is not None and getattr(role, "name", None) != task.role:
        ref, role = ctx.role_of(task)  # a task an import_role brought in sees its own role
    return task_variables(ctx.base, ctx.inventory, run.name, run.lazy_facts, item,
                          ctx.options.extra_vars, role=role, ref=ref,
                          gathered=run.gathered, runtime=run.runtime,
                          check_mode=ctx.options.dry_run)
