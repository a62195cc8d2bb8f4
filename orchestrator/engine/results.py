"""What a run did, per host and per task, as plain data for reports, JSON and tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OK, CHANGED, FAILED, SKIPPED, UNREACHABLE, NOT_RUN = (
    "ok", "changed", "failed", "skipped", "unreachable", "not run",
)
# a failure a block's `rescue` handled (Ansible counts it as rescued, the host goes on)
RESCUED = "rescued"
# a plan's task that reads a result only an apply produces (a registered command's output)
UNKNOWN = "known after apply"


@dataclass
class TaskResult:
    name: str
    where: str  # file:line of the task
    status: str  # ok | changed | failed | skipped | not run
    role: str | None = None
    handler: bool = False
    error: str | None = None
    diff: str | None = None  # plan: unified diff of a file the task would change
    item: Any = None  # the loop item, when the task loops
    msg: str | None = None  # what the task says (debug's message)


@dataclass
class HostResult:
    host: str
    tasks: list[TaskResult] = field(default_factory=list)
    error: str | None = None  # unreachable, or why the host stopped: a failure either way
    unreachable: bool = False

    @property
    def changed(self) -> int:
        return sum(t.status == CHANGED for t in self.tasks)

    @property
    def failed(self) -> bool:
        """Whether the host did not do all it was asked: unreachable, stopped (its journal,
        its preparation or the run ended it: `error`), or a task failed."""
        return (self.unreachable or self.error is not None
                or any(t.status == FAILED for t in self.tasks))

    @property
    def reason(self) -> str | None:
        """Why the host failed, in one line: the host's error, else the first failed task's
        place (file:line) and error."""
        if self.error is not None:
            return self.error
        task = next((t for t in self.tasks if t.status == FAILED), None)
        if task is None:
            return None
        return f"{task.where}: {task.error or 'failed'}"

    @property
    def status(self) -> str:
        if self.unreachable:
            return UNREACHABLE
        if self.failed:
            return FAILED
        return CHANGED if self.changed else OK


@dataclass
class PlayResult:
    name: str
    hosts: dict[str, HostResult] = field(default_factory=dict)
    # host -> the address of the cluster worker that ran it (`orc apply --cluster`); empty when
    # the play ran in the controller's process
    workers: dict[str, str] = field(default_factory=dict)

    @property
    def failed_hosts(self) -> list[str]:
        return [name for name, result in self.hosts.items() if result.failed]


@dataclass
class RunResult:
    playbook: str
    dry_run: bool
    plays: list[PlayResult] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(h.changed for p in self.plays for h in p.hosts.values())

    @property
    def failed(self) -> bool:
        return any(h.failed for p in self.plays for h in p.hosts.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
