"""The journal's part in a run: pre-images recorded on each host before its operations run,
and the state they left recorded after (the seal), for `orc rollback`'s drift check.

A host whose journal cannot be written runs nothing of its segment: no host changes without a
record that lets rollback undo it."""

from __future__ import annotations

from typing import Any

import gevent

from orchestrator.engine.compile import without_omitted
from orchestrator.engine.context import PlayRun, Scope, variables_for
from orchestrator.engine.failures import one_line
from orchestrator.engine.hostrun import HostRun
from orchestrator.engine.record import TaskRecord
from orchestrator.engine.results import (
    HostResult,
    PlayResult,
)
from orchestrator.engine.settle import unprepared_segment
from orchestrator.events import HostDone, JournalRecorded, Listener
from orchestrator.secrets import masking
from orchestrator.templating.render import render_value
from orchestrator.transport.session import Session
from orchestrator.undo import record as journal
from orchestrator.undo.kinds import Resource, resources_of


def journal_sudo(play_become: bool | None, host: Any) -> bool:
    """The journal lives under /var/lib/orc: root's, through sudo when the play or the
    inventory (ansible_become) says the host is reached as another user."""
    return bool(play_become) or bool(host.data.get("_sudo"))


def record_journals(ctx: PlayRun, runs: dict[str, HostRun], current: dict[str, list[TaskRecord]],
                     new: dict[Any, list[str]], result: PlayResult, emit: Listener
                     ) -> dict[str, journal.Batch]:
    """Record the pre-images of what a segment may change on each host (in parallel) before
    it runs; a host whose journal cannot be written is failed and runs nothing more."""
    session = ctx.session
    handlers = ctx.play.all_handlers()

    def notified(run: HostRun, record: TaskRecord) -> list[dict[str, Any]]:
        """The handlers a task notifies, rendered for its host, so a rollback can run them."""
        found = []
        for handler in handlers:
            if not ({handler.name, *handler.listen} & set(record.task.notify)):
                continue
            ref, role = ctx.role_of(handler)
            try:
                variables = variables_for(ctx, run, handler, Scope(ref, role))
                args = handler.module.convert(without_omitted(
                    handler, render_value(handler.args, variables, handler.where)),
                    handler.location)
            except Exception:  # noqa: BLE001 - not renderable here: the rollback skips it
                continue
            found.append({"name": handler.name, "module": handler.module.name, "args": args})
        return found

    def planned(run: HostRun, host_records: list[TaskRecord]) -> list[journal.Planned]:
        found = []
        for record in host_records:
            if record.final or record.check_mode or not record.metas:
                continue
            resources = [res for call in record.calls
                         for res in resources_of(call.op, call.kwargs, record.task.undo)]
            resources = [_hidden_resource(res, record.no_log) for res in resources]
            if not record.calls:  # a deploy.py's operations: rollback lists them, never silent
                resources = [Resource("unsupported", record.task.name, {
                    "why": "operations of a role's deploy.py are not recorded"})]
            notify = notified(run, record) if record.task.notify else []
            found.append(journal.Planned(record.task.name, record.task.where,
                                         record.will_change(), resources, notify))
        return found

    def write(name: str) -> Any:
        host = session.hosts[name]
        try:
            return journal.record(host, ctx.options.run_id, ctx.play.name,
                                  planned(runs[name], current[name]),
                                  journal_sudo(ctx.play_become, host), ctx.options.keep_runs)
        except Exception as exc:  # a value, so gevent never prints it as a traceback
            return exc

    jobs = {name: gevent.spawn(write, name) for name in current
            if session.hosts[name] in new and session.hosts[name] in session.state.active_hosts}
    gevent.joinall(list(jobs.values()))
    batches = {}
    for name, job in jobs.items():
        if not isinstance(job.value, Exception):
            if job.value is not None:
                batches[name] = job.value
                emit(JournalRecorded(name, job.value))
            continue
        # the host runs nothing without its journal: a failure, whose tasks did not run
        run = runs[name]
        unprepared_segment(run)
        gone = session.lost(name)
        result.hosts[name] = HostResult(name, [r.result for r in run.records],
                                        error=gone or f"journal: {one_line(job.value)}",
                                        unreachable=gone is not None)
        session.state.active_hosts.discard(session.hosts[name])
        emit(HostDone(name, result.hosts[name].status))
    return batches


def _hidden_resource(resource: Resource, no_log: bool) -> Resource:
    """A command line names what it ran, and may hold a secret: the journal (and `orc show`)
    keep it masked, as they do every line of a `no_log` task."""
    if resource.kind != "command":
        return resource
    key = masking.MASK if no_log else masking.hide(resource.key)
    return Resource(resource.kind, key or resource.key, resource.extra)


def seal_journals(play_become: bool | None, batches: dict[str, list[journal.Batch]],
                   session: Session) -> dict[str, str]:
    """Record what the run left of each journaled resource (in parallel), for a later
    rollback's drift check. A host where that fails keeps a journal without one (its rollback
    then restores without that check, as after a crash) and is failed: returned with why."""
    def seal(name: str) -> str | None:
        host = session.hosts[name]
        try:
            for batch in batches[name]:
                journal.seal(host, batch, journal_sudo(play_become, host))
        except Exception as exc:  # noqa: BLE001 - a value, never a traceback from gevent
            return f"journal: after the run: {one_line(exc)}"
        return None

    jobs = {name: gevent.spawn(seal, name) for name in batches}
    gevent.joinall(list(jobs.values()))
    return {name: job.value for name, job in jobs.items() if job.value}
