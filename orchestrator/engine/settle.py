"""Hosts where nothing would run, and what runs in a plan.

pyinfra's change detection predicts each operation from facts read when it is added; a host
where no operation of a segment is predicted to run any command is settled: running it would
only read the same facts again. A plan runs only tasks with `check_mode: false`, as Ansible's
check mode does."""

from __future__ import annotations

from typing import Any

from orchestrator.engine.hostrun import HostRun
from orchestrator.engine.record import TaskRecord
from orchestrator.engine.results import (
    FAILED,
    NOT_RUN,
    SKIPPED,
)
from orchestrator.secrets import masking
from orchestrator.transport.session import Session


def unprepared_segment(run: HostRun) -> None:
    """The records of a segment its host could not prepare whole: none of them runs; the task
    that failed carries the reason."""
    run.stopped = True
    for record in run.segment():
        if record.result.status not in (FAILED, SKIPPED):
            record.result.status = NOT_RUN
        record.result.error = masking.hide(record.result.error)
        record.metas = []
        record.final = True


def forced_ops(new: dict[Any, list[str]], current: dict[str, list[TaskRecord]], session: Session
            ) -> dict[Any, list[str]]:
    """Of a plan's segment, the operations of tasks with `check_mode: false`: Ansible runs
    them in check mode too (a read-only command whose output later tasks read)."""
    keep: dict[Any, list[str]] = {}
    for name, records in current.items():
        host = session.hosts[name]
        hashes = {m._hash for r in records if r.forced for m in r.metas}
        chosen = [h for h in new.get(host, []) if h in hashes]
        if chosen:
            keep[host] = chosen
    return keep


def _would_run(records: list[TaskRecord]) -> bool:
    """Whether running a host's operations could execute anything: some operation that is not
    skipped or held back by `check_mode` is predicted to run commands (a handler is only added
    once notified, so it counts). `changed_when` does not count here: a command whose change
    is ignored still has to run."""
    return any(meta.will_change for record in records
               if not record.final and not record.check_mode
               for meta in record.metas)


def settle(records: dict[str, list[TaskRecord]], session: Session) -> set[str]:
    """Take the hosts where nothing would run out of the State before `run_ops` (see the module
    docstring): running them would only read their facts a second time."""
    settled = set()
    for name, host_records in records.items():
        host = session.hosts[name]
        if host in session.state.active_hosts and not _would_run(host_records):
            session.state.active_hosts.discard(host)
            settled.add(name)
    return settled
