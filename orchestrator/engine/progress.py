"""pyinfra's per-operation callbacks as orc events while operations run.

`op` when a host finished a task's operation, `task-failed` the moment one fails (not when
the wave ends); also the journal's crash point after each operation (crash tests)."""

from __future__ import annotations

from typing import Any

import gevent

from orchestrator.engine.outcome import error_text
from orchestrator.engine.record import TaskRecord
from orchestrator.events import Listener, OperationDone, TaskFailed
from orchestrator.load.tasks import Task
from orchestrator.secrets import masking
from orchestrator.transport.session import Session
from orchestrator.undo import record as journal


class Progress:
    """pyinfra's per-operation callbacks as orc events while operations run: `op` (a host
    finished a task's operation) and `task-failed` (host, task, reason) the moment it fails,
    not when the wave ends. Also the journal's crash point after each operation."""

    def __init__(self, emit: Listener):
        self.emit = emit
        self.session: Session | None = None
        self.records: dict[tuple[str, str], TaskRecord] = {}  # (host, operation hash) -> task
        self.reporters: list[Any] = []

    def know(self, host: str, records: list[TaskRecord]) -> None:
        for record in records:
            for meta in record.metas:
                self.records.setdefault((host, meta._hash), record)

    def on_op(self, host: str, op_hash: str, ok: bool) -> None:
        journal.crash_point(1)  # an operation ran (for crash tests)
        record = self.records.get((host, op_hash))
        self.emit(OperationDone(host, record.task.name if record else "", ok))
        if not ok and record is not None and not record.ignore_errors:
            # pyinfra completes the operation's output right after this callback returns
            self.reporters.append(gevent.spawn(self._failed, host, op_hash, record.task))

    def _failed(self, host: str, op_hash: str, task: Task) -> None:
        meta = self.session.state.get_op_data_for_host(self.session.hosts[host],
                                                       op_hash).operation_meta
        reason = self.session.lost(host) or (error_text(meta) if meta.is_complete()
                                             else "operation failed")
        self.emit(TaskFailed(host, task.name, task.where, masking.hide(reason)))

    def flush(self) -> None:
        gevent.joinall(self.reporters)
