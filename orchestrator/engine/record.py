"""A task on one host, as it runs: the pyinfra operations it became and what they did.

One `TaskRecord` per task (per loop item) per host. The engine fills it while the task is
prepared (its operations, previews and keywords) and after its segment runs (its status and
the value `register` stores); reports read its `result`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.engine.results import (
    CHANGED,
    TaskResult,
)
from orchestrator.load.tasks import Task
from orchestrator.modules.base import FilePreview, OpCall
from orchestrator.templating.render import Variables


@dataclass
class TaskRecord:
    """One task (one loop item) on one host, and the pyinfra operations it became."""

    task: Task
    result: TaskResult
    metas: list[Any] = field(default_factory=list)
    previews: list[FilePreview] = field(default_factory=list)
    counts_as_change: bool = True  # False with `changed_when: false`
    no_log: bool = False  # Ansible's `no_log`: the result is not shown
    notifiers: list[TaskRecord] | None = None  # set for handlers: the records that notify them
    calls: list[OpCall] = field(default_factory=list)
    check_mode: bool = False  # the task's boolean keywords, rendered for this host
    forced: bool = False  # `check_mode: false`: runs in a plan too, as in Ansible
    ignore_errors: bool = False
    run_error: str | None = None  # an exception raised while pyinfra ran its operations
    action: bool = False  # a controller module (set_fact, include_tasks...): no operation
    final: bool = False  # its status and registered value are decided
    settled: bool = False  # its host sat the segment out (nothing would change)
    capture_rc: bool = False  # a command that reports its exit status (for `register`)
    changed_after: bool = False  # `changed_when` reads the task's own result
    rescued: bool = False  # it failed inside a block whose `rescue` ran
    unreached: bool = False  # after a rescued failure in its block: never reached
    notified: bool = False  # its notifications were handled at a flush
    did_change: bool = False  # what ran changed the host (after `changed_when`)
    variables: Variables | None = None  # what it was rendered with (for failed_when)
    registered: Any = None  # what `register` stores of it
    registers: dict[str, Any] = field(default_factory=dict)  # a module's keys for `register`

    def changed(self) -> bool:
        if self.action:
            return self.result.status == CHANGED
        if self.final and self.metas:
            return self.did_change
        return self.counts_as_change and any(m.is_complete() and m.did_change()
                                             for m in self.counted())

    def will_change(self) -> bool:
        if self.notifiers is not None and not any(r.will_change() for r in self.notifiers):
            return False
        return self.counts_as_change and any(m.will_change for m in self.counted())

    def counted(self) -> list[Any]:
        """The operations whose change is the task's (`OpCall.counts`); a deploy.py's
        operations have no call and all count."""
        return [m for i, m in enumerate(self.metas)
                if i >= len(self.calls) or self.calls[i].counts]
