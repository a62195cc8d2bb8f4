"""What a task did on a host, decided once its segment ran: status, change, registered value.

Reads pyinfra's operation metadata (did it run, did it change, its output), applies
`changed_when`/`failed_when`/`until` that read the task's own result, fills `register`
(engine/registered.py shapes), and collects a host's records into its `HostResult`, with
`no_log` and secret values masked before anything reports them."""

from __future__ import annotations

from typing import Any

from orchestrator.engine import registered
from orchestrator.engine.context import PlayRun
from orchestrator.engine.failures import stage
from orchestrator.engine.hostrun import HostRun
from orchestrator.engine.preview import file_diff
from orchestrator.engine.record import TaskRecord
from orchestrator.engine.results import (
    CHANGED,
    FAILED,
    NOT_RUN,
    OK,
    RESCUED,
    SKIPPED,
    HostResult,
    TaskResult,
)
from orchestrator.load.tasks import Task
from orchestrator.modules.commands import RC_MARK
from orchestrator.secrets import masking
from orchestrator.templating.render import Variables, evaluate
from orchestrator.transport.session import Session


def hide_no_log(task: TaskResult) -> None:
    """Ansible's `no_log: true`: the task's result (error, diff, loop item) is not shown."""
    task.error = task.error and masking.NO_LOG
    task.diff = None
    task.item = None if task.item is None else masking.MASK


def hide_secrets(host: HostResult) -> None:
    """Secret values, and every value rendered from one, never reach a report, the run index
    or the terminal: masked whole in each field of the host's result (`masking.hide`)."""
    host.error = masking.hide(host.error)
    for task in host.tasks:
        task.name = masking.hide(task.name) or task.name
        task.diff = masking.hide(task.diff)
        task.error = masking.hide(task.error)
        task.item = masking.hide_value(task.item)


def registered_value(task: Task, records: list[TaskRecord]) -> Any:
    values = [r.registered if r.registered is not None else registered.skipped()
              for r in records]
    if task.loop is None:
        return values[0] if values else registered.skipped()
    looped = [(r, v) for r, v in zip(records, values) if r.variables is not None]
    if not looped:  # what Ansible registers for an empty loop
        return {"changed": False, "skipped": True, "skipped_reason": "No items in the list",
                "results": []}
    items = [r.variables[task.loop.loop_var] for r, _ in looped]
    for index, (record, value) in enumerate(looped):
        # the item itself (the result shows its label), the index_var and ansible_loop
        for key, scoped in task.loop.scope(index, items[index], items).items():
            value.setdefault(key, scoped)
    return registered.of_loop([v for _, v in looped], task.loop.loop_var)


def until_holds(record: TaskRecord, scoped: Variables, value: dict[str, Any]) -> bool:
    task = record.task
    scope = scoped.child(**({task.register: value} if task.register else {}))
    return evaluate(task.until, scope, task.where)


def failed_operation(state: Any, host: Any) -> bool:
    return False  # pyinfra counts the command, and so the operation, as failed on this host


def complete(ctx: PlayRun, run: HostRun, records: list[TaskRecord], settled: bool) -> None:
    """After a segment: each of its tasks' status on this host, what `register` stores, and
    whether the host goes on (a failed task stops it, unless ignored or rescued)."""
    dry_run = ctx.options.dry_run
    failed = False
    for record in records:
        if not record.final:
            record.settled = settled
            _decide(record, run, ctx.session, dry_run)
        if record.result.status == FAILED and not record.rescued:
            failed = True
    for name, pending in list(run.pending.items()):
        if all(r.final for r in pending):
            run.facts_set[name] = registered_value(pending[0].task, pending)
            del run.pending[name]
    if failed:
        run.fail()


def _decide(record: TaskRecord, run: HostRun, session: Session, dry_run: bool) -> None:
    """One task's status from its operations: predicted (plan), ok for a settled host (it sat
    the segment out: nothing would have changed), else what ran; and its registered value."""
    record.final = True
    result = record.result
    task = record.task
    if dry_run and not (record.forced and all(m.is_complete() for m in record.metas)):
        changing = record.will_change()
        result.status = CHANGED if changing else OK
        if changing and record.previews:
            result.diff = file_diff(run.host, run.name, record.previews)
        record.registered = (registered.KnownAfterApply(task.register or task.name)
                             if changing else {"changed": False, "failed": False,
                                               **record.registers})
        return
    if record.check_mode:
        result.status = SKIPPED
        record.registered = registered.skipped()
        return
    if record.settled:
        result.status = OK
        record.registered = {"changed": False, "failed": False, **record.registers}
        return
    if not all(m.is_complete() for m in record.metas):
        result.status = NOT_RUN
        return
    errors = [m for m in record.metas if m.did_error()]
    stdout = [line for m in record.metas for line in (m.stdout_lines or [])]
    stderr = [line for m in record.metas for line in (m.stderr_lines or [])]
    rc = None
    if record.capture_rc:
        stdout, rc = exit_status(stdout)
    failed = bool(errors) or bool(rc)
    reason = record.run_error or (error_text(errors[0]) if errors else None)
    if rc and not reason:
        reason = (stderr[-1].strip() if stderr else f"non-zero return code {rc}")
    changed = record.counts_as_change and any(m.is_complete() and m.did_change()
                                              for m in record.counted())
    value = registered.of_output(changed, failed, stdout, stderr, rc=rc,
                                 msg=reason if failed else None)
    value.update(record.registers)
    value["changed"], value["failed"] = changed, failed
    if task.until is not None:
        value["attempts"] = getattr(record.metas[0], "_retry_attempts", 0) + 1
        with stage("until", task):
            holds = until_holds(record, record.variables, value)
        if not holds and not failed:
            failed = True
            reason = f"the until condition still fails after {value['attempts']} attempts"
            value["failed"] = True
    if record.changed_after or task.failed_when is not None:
        scope = record.variables.child(**({task.register: value} if task.register else {}))
        if record.changed_after:
            with stage("changed_when", task):
                changed = evaluate(task.changed_when, scope, task.where)
            value["changed"] = changed
        if task.failed_when is not None:
            with stage("failed_when", task):
                failed = evaluate(task.failed_when, scope, task.where)
            value["failed"] = failed
            value["failed_when_result"] = failed
            reason = reason or "failed_when condition was true"
    record.registered = value
    record.did_change = changed
    if failed and not record.ignore_errors:
        result.status = FAILED
        result.error = reason
    else:
        result.status = CHANGED if changed else OK
        if failed:
            result.error = f"ignored: {reason}"


def exit_status(stdout: list[str]) -> tuple[list[str], int | None]:
    """The command's output and exit status, from the mark `capture_rc` prints last."""
    if not stdout:
        return stdout, None
    last = stdout[-1]
    at = last.rfind(RC_MARK)
    if at < 0 or not last[at + len(RC_MARK):].strip().isdigit():
        return stdout, None
    rc = int(last[at + len(RC_MARK):].strip())
    rest = last[:at]
    return (stdout[:-1] + [rest]) if rest else stdout[:-1], rc


def collect(name: str, records: list[TaskRecord], session: Session, stopped: str | None = None
             ) -> HostResult:
    """A host's task results, in order. A task that did not run when it should have fails the
    host (`stopped`: why pyinfra's run ended early)."""
    result = HostResult(name)
    halted = False
    for record in records:
        if halted and record.action and record.result.status not in (FAILED, SKIPPED):
            record.result.status = NOT_RUN  # decided on the controller, but after a failure
        if record.result.status == FAILED and not record.rescued:
            halted = True
        if record.unreached:
            continue  # Ansible never reached it: not reported
        result.tasks.append(record.result)
    if any(r.status == NOT_RUN for r in result.tasks) and not result.failed:
        result.error = "stopped before all tasks ran" + (f": {stopped}" if stopped else "")
    for record in records:
        if record.rescued and record.result.status == FAILED:
            # a failure a `rescue` handled: shown, but the host did what it was asked
            record.result.status = RESCUED
    gone = session.lost(name) if result.failed or result.error else None
    if gone:  # the tasks stopped because the host went away: say so, not their last output
        result.unreachable, result.error = True, gone
        for task in result.tasks:
            task.error = gone if task.status == FAILED else task.error
    return result


def error_text(meta: Any) -> str:
    lines = [line for line in (meta.stderr_lines or meta.stdout_lines or []) if line.strip()]
    return lines[-1].strip() if lines else "operation failed"
