"""What a run says while it happens, as typed events, and the `Listener` that hears them.

The engine, the rollout and the rollback emit these; the console, the live view, the JSON,
JUnit and HTML reports are listeners the CLI attaches (`orchestrator/report/`). None of them
changes what runs. The shape follows pyinfra's `BaseStateCallback` (one hook per step of a
State's life) and Ansible's callback plugins (`v2_playbook_on_play_start`, `v2_runner_on_failed`,
... `v2_playbook_on_stats`), with one class per event instead of one method per event, so a
listener is a single callable and an event can be stored, compared and replayed in a test.

Every event is a frozen dataclass; `kind` is its historic name (`"wave-done"`, ...), the
string the events had when they were `(kind, dict)` pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Union

if TYPE_CHECKING:  # the types events carry; the modules that emit them import this one
    from orchestrator.rollout.run import RolloutReport
    from orchestrator.undo.record import Batch


# -- a play on a set of hosts (the engine: engine.run.run_play) -------------------------------

@dataclass(frozen=True)
class PlayStarted:
    """A play starts on `hosts` (the hosts of one wave, when a rollout runs it)."""

    kind: ClassVar[str] = "play"
    play: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class OperationDone:
    """A host finished one pyinfra operation of `task` (pyinfra's `operation_host_success` or
    `_error`); `task` is "" for an operation no task of the play owns."""

    kind: ClassVar[str] = "op"
    host: str
    task: str
    ok: bool


@dataclass(frozen=True)
class TaskFailed:
    """A task failed on a host, the moment its operation failed (not when the wave ends).
    `where` is the task's `file:line`; `error` is masked of secrets."""

    kind: ClassVar[str] = "task-failed"
    host: str
    task: str
    where: str
    error: str


@dataclass(frozen=True)
class Message:
    """What a `debug` task says on a host (masked of secrets, or Ansible's no_log text)."""

    kind: ClassVar[str] = "message"
    host: str
    task: str
    msg: Any


@dataclass(frozen=True)
class JournalRecorded:
    """The pre-images of what a segment may change were written to the host's journal."""

    kind: ClassVar[str] = "journal"
    host: str
    batch: Batch


@dataclass(frozen=True)
class HostDone:
    """A host is done with the play: `status` is `ok`, `changed`, `failed` or `unreachable`
    (`engine.results.HostResult.status`); `error` says why it failed, when it did."""

    kind: ClassVar[str] = "host"
    host: str
    status: str
    error: str | None = None


# -- a rollout: waves, health, bake (rollout.run.run_rollout) --------------------------------

@dataclass(frozen=True)
class WaveStarted:
    """Wave `wave` (0-based) of `play` starts on `hosts`."""

    kind: ClassVar[str] = "wave"
    play: str
    wave: int
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class HealthChecking:
    """Health checks start on `hosts`; `wave` is -1 for the checks after a rollback."""

    kind: ClassVar[str] = "health"
    wave: int
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Baking:
    """The wave bakes: `remaining` seconds (rounded to 0.1) before the next wave may start."""

    kind: ClassVar[str] = "bake"
    wave: int
    remaining: float


@dataclass(frozen=True)
class WaveDone:
    """A wave ended: `status` `ok` or `failed`, `reason` why it failed."""

    kind: ClassVar[str] = "wave-done"
    wave: int
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class RolledBack:
    """A failed wave's hosts were rolled back as the play's `rollback:` policy (`mode`) says."""

    kind: ClassVar[str] = "rolled-back"
    mode: str
    hosts: tuple[str, ...]
    ok: bool


@dataclass(frozen=True)
class RunDone:
    """The rollout ended with `status` (runs.SUCCEEDED, HALTED, PAUSED, ...)."""

    kind: ClassVar[str] = "run"
    run: str
    status: str


@dataclass(frozen=True)
class RunReported:
    """The run's whole report, its waves complete (a resumed run's earlier waves read back
    from the run index): what the summary, JSON, JUnit and HTML reports are written from, as
    Ansible's callbacks write theirs on `v2_playbook_on_stats`."""

    kind: ClassVar[str] = "report"
    report: RolloutReport = field(compare=False)


# -- `orc rollback` (restore.rollback) -------------------------------------------------------

@dataclass(frozen=True)
class RollbackStarted:
    """The restore of `run`'s changes starts on `hosts`."""

    kind: ClassVar[str] = "rollback"
    run: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class RollbackDone:
    """The restore of `run` ended; `failed` is whether some host's restore failed."""

    kind: ClassVar[str] = "rollback-done"
    run: str
    failed: bool


Event = Union[PlayStarted, OperationDone, TaskFailed, Message, JournalRecorded, HostDone,
              WaveStarted, HealthChecking, Baking, WaveDone, RolledBack, RunDone, RunReported,
              RollbackStarted, RollbackDone]


class Listener(Protocol):
    """Anything called with each event, in the order they happen. Events of one play come
    from one thread (gevent's greenlets, one at a time); a listener must not raise."""

    def __call__(self, event: Event) -> None: ...


def ignore(event: Event) -> None:
    """The listener of a run nobody watches."""


def fan_out(listeners: Iterable[Listener | None]) -> Listener:
    """One listener that passes each event to each of `listeners` in order (None skipped)."""
    chosen = [listener for listener in listeners if listener is not None]
    if len(chosen) == 1:
        return chosen[0]

    def each(event: Event) -> None:
        for listener in chosen:
            listener(event)
    return each
