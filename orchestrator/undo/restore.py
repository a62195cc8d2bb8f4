"""Roll a run back from the journals on its hosts, through pyinfra operations.

Per host, the run's batches are read from `/var/lib/orc/runs/<run>/` and every recorded resource
is brought back to its earliest pre-image (the state before the run first touched it), newest
first, by its kind (`orchestrator.undo.kinds`): files are put back with their saved bytes, mode
and owner, created paths removed, packages purged or put back to their version, services
stopped or started and enabled as they were, user and group entries restored line for line,
sysctl values reset. Handlers that the restored tasks notify run afterwards, in a second pyinfra
State that sees the restored host, and only for services that are running then. Commands run
their `undo:`; without one they are reported as irreversible, never skipped silently.

Before anything is restored, every host is compared with what the run left (the journal's
after-images, `orchestrator.undo.drift`): a resource changed since, by hand or by another tool,
is drift. Drift stops the whole rollback before any host is touched, unless the caller confirms
it (the CLI asks) or forces it; a rollback never overwrites a hand change silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.context import ctx_state

from orchestrator import modules
from orchestrator.errors import DriftError, HostError, InputError
from orchestrator.events import Listener, RollbackDone, RollbackStarted, ignore
from orchestrator.inventory import Inventory
from orchestrator.modules.base import HostContext
from orchestrator.transport.session import open_session
from orchestrator.undo.drift import Drift, drift
from orchestrator.undo.kinds import KINDS, RESTORABLE, get, service
from orchestrator.undo.kinds.base import HostPlan, HostReads, PreImage, Restored, Step
from orchestrator.undo.record import (ROLLED_BACK, ROLLING_BACK, Batch, crash_point,
                                      read_batches, run_dir)


@dataclass
class HostRollback:
    host: str
    items: list[Restored] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None  # why nothing was done (no journal, rolled back already)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(i.status == "failed" for i in self.items)

    @property
    def irreversible(self) -> list[Restored]:
        return [i for i in self.items if i.status in ("irreversible", "not recorded")]


@dataclass
class RollbackReport:
    run_id: str
    hosts: dict[str, HostRollback] = field(default_factory=dict)
    drift: list[Drift] = field(default_factory=list)  # overwritten, as confirmed or forced

    @property
    def failed(self) -> bool:
        return any(h.failed for h in self.hosts.values())


def earliest(batches: list[Batch]) -> list[PreImage]:
    """Per resource, its first pre-image in the run; in the order they were recorded."""
    seen: dict[tuple[str, str], PreImage] = {}
    order = 0
    for batch in batches:
        for image in batch.images:
            key = (image.kind, image.key if image.kind != "command" else f"{order}")
            order += 1
            if key not in seen:
                seen[key] = image
                image.extra["batch"] = batch.name
    return list(seen.values())


def plan_host(reads: HostReads, journal: str, batches: list[Batch]) -> HostPlan:
    """The restore of one host, newest pre-image first, each resource by its kind; `journal`
    is the run's directory on the host. Pure but for `reads`: tests give them."""
    plan = HostPlan(reads, journal, batches, earliest(batches))
    for kind in KINDS.values():
        kind.before(plan)
    for image in reversed(plan.images):
        if not image.state and image.kind in RESTORABLE:
            plan.outcome(image, "failed", "no pre-image captured")
            continue
        get(image.kind).restore(plan, image)
    for kind in KINDS.values():
        kind.after(plan)
    return plan


def _add_ops(state: Any, host: Any, plan: HostPlan, sudo: bool) -> None:
    """Add a plan's operation calls to the State, in the order they were planned."""
    for step, op, kwargs in plan.order:
        args: dict[str, Any] = {"name": f"rollback {step.image.kind} {step.image.key}"}
        if sudo:
            args["_sudo"] = True
        step.metas.append(add_op(state, op, host=host, **args, **kwargs)[host])


def _plan_host(state: Any, host: Any, run_id: str, batches: list[Batch], sudo: bool,
               report: HostRollback) -> list[Step]:
    plan = plan_host(HostReads(host, sudo), run_dir(run_id), batches)
    report.items.extend(plan.items)
    _add_ops(state, host, plan, sudo)
    return plan.steps


def _notified(steps: list[Step]) -> list[dict[str, Any]]:
    """Handlers of the tasks whose resources the rollback changed, once each, in order."""
    seen: dict[str, dict[str, Any]] = {}
    for step in steps:
        if any(m.is_complete() and m.did_change() for m in step.metas):
            for handler in step.image.notify:
                seen.setdefault(handler["name"], handler)
    return list(seen.values())


DONE = ROLLED_BACK  # the marker of a run rolled back, in its journal directory


def _read_host(host: Any, run_id: str, sudo: bool) -> tuple[list[Batch], set[str]]:
    """The run's batches on the host, and which rollback markers are there."""
    batches = read_batches(host, run_id, sudo)
    directory = run_dir(run_id)
    _, out = host.run_shell_command(
        f"for m in {DONE} {ROLLING_BACK}; do [ -e {directory}/$m ] && echo $m; done; true",
        _sudo=sudo)
    return batches, set(out.stdout_lines)


def _on_hosts(session: Any, commands: dict[str, str], sudo: bool) -> None:
    """Run each host's command, all hosts in parallel."""
    gevent.joinall([gevent.spawn(session.hosts[name].run_shell_command, command, _sudo=sudo)
                    for name, command in commands.items()])


def _check_drift(session: Any, run_id: str, batches: dict[str, list[Batch]], sudo: bool,
                 force: bool, confirm: Callable[[list[Drift]], bool] | None,
                 report: RollbackReport) -> None:
    """Compare every host with what the run left, in parallel; raise `DriftError` (nothing
    changed yet) unless there is none, or it is forced or confirmed."""
    names = [name for name, found in batches.items() if found]
    jobs = {name: gevent.spawn(drift, session.hosts[name], run_id, batches[name], sudo)
            for name in names}
    gevent.joinall(list(jobs.values()))
    found: list[Drift] = []
    for name, job in jobs.items():
        if not job.successful():
            raise HostError(f"{name}: could not compare with what {run_id} left: "
                            f"{job.exception}")
        found += job.value
    if not found:
        return
    if not force and not (confirm and confirm(found)):
        raise DriftError(run_id, found)
    report.drift = found


def rollback(inventory: Inventory, run_id: str, names: list[str], *, sudo: bool = False,
             force: bool = False, confirm: Callable[[list[Drift]], bool] | None = None,
             release: Callable[[str], str] = lambda run_id: "",
             on_event: Listener | None = None) -> RollbackReport:
    """Restore every recorded resource of `run_id` on `names`; hosts with no journal of the
    run are left alone, and so are hosts where it was rolled back already (unless `force`).
    Drift since the run raises `DriftError` before any change unless `force`, or `confirm`
    (given the drift) says yes. `release(run_id)`: the shell command that frees what the run
    holds on a host (its rollout lock, `rollout.locks.release_command`), run at the end."""
    emit = on_event or ignore
    report = RollbackReport(run_id)
    # crash tests count restore operations too (ORC_KILL_AFTER_OPS, see record.crash_point)
    session = open_session(inventory, names, on_op=lambda host, op, ok: crash_point(1))
    for name, why in session.unreachable.items():
        report.hosts[name] = HostRollback(name, error=why)
    reads = {name: gevent.spawn(_read_host, host, run_id, sudo)
             for name, host in session.hosts.items()}
    gevent.joinall(list(reads.values()))
    batches: dict[str, list[Batch]] = {}
    started: set[str] = set()  # hosts where a rollback of the run began (and maybe died)
    for name, job in reads.items():
        if not job.successful():
            gone = session.lost(name)
            if gone is None:
                raise job.exception
            report.hosts[name] = HostRollback(name, error=gone)  # it went away: nothing to do
            batches[name] = []
            session.state.active_hosts.discard(session.hosts[name])
            continue
        batches[name], markers = job.value
        if ROLLING_BACK in markers:
            started.add(name)
        if DONE in markers and batches[name] and not force:
            report.hosts[name] = HostRollback(name, skipped="already rolled back")
            batches[name] = []
        elif not batches[name]:
            report.hosts[name] = HostRollback(name, skipped=f"no journal of {run_id}")
        if not batches[name]:
            session.state.active_hosts.discard(session.hosts[name])
    # a host an interrupted rollback already partly restored differs from what the run left
    # because of that rollback: finishing it is not overwriting anyone's change
    _check_drift(session, run_id, {n: b for n, b in batches.items() if n not in started},
                 sudo, force, confirm, report)
    steps: dict[str, list[Step]] = {}
    with ctx_state.use(session.state):
        jobs = {name: gevent.spawn(_plan_host, session.state, session.hosts[name], run_id,
                                   batches[name], sudo,
                                   report.hosts.setdefault(name, HostRollback(name)))
                for name in session.hosts if batches[name]}
        gevent.joinall(list(jobs.values()))
    for name, job in jobs.items():
        if job.successful():
            steps[name] = job.value
        else:
            report.hosts[name].error = f"{type(job.exception).__name__}: {job.exception}"
            session.state.active_hosts.discard(session.hosts[name])
    if session.state.active_hosts:
        emit(RollbackStarted(run_id, tuple(sorted(steps))))
        marker = f"touch {run_dir(run_id)}/{ROLLING_BACK} && sync"
        _on_hosts(session, {n: marker for n in steps
                            if session.hosts[n] in session.state.active_hosts}, sudo)
        try:
            run_ops(session.state)
        except PyinfraError:
            pass  # per-host failures are read from the metadata below
    second: dict[str, tuple[list[PreImage], list[dict[str, Any]]]] = {}
    for name, host_steps in steps.items():
        host_report = report.hosts[name]
        gone = session.lost(name)
        for step in host_steps:
            outcome = _outcome(step)
            if gone and outcome.status == "failed":  # not the restore's fault: the host left
                outcome.detail = gone
            host_report.items.append(outcome)
        if gone and host_report.failed:
            host_report.error = gone
            continue
        later = [i for i in earliest(batches[name]) if get(i.kind).later(i)]
        second[name] = (later, _notified(host_steps))
    if any(later or handlers for later, handlers in second.values()):
        _second_phase(inventory, second, report, sudo)
    # marked done, and the host's rollout lock freed if the (killed) run still holds it: also
    # on hosts it locked but never reached
    done = f"touch {run_dir(run_id)}/{DONE}; "
    _on_hosts(session, {name: (done if name in steps else "") + release(run_id)
                        for name in session.hosts if not report.hosts[name].failed}, sudo)
    emit(RollbackDone(run_id, report.failed))
    return report


def _outcome(step: Step) -> Restored:
    image = step.image
    if step.note:
        return Restored(image.kind, image.key, image.task, "failed", step.note)
    errors = [m for m in step.metas if m.did_error()]
    if errors:
        lines = errors[0].stderr_lines or errors[0].stdout_lines or ["failed"]
        return Restored(image.kind, image.key, image.task, "failed", lines[-1].strip())
    if not all(m.is_complete() for m in step.metas):
        return Restored(image.kind, image.key, image.task, "failed", "did not run")
    changed = any(m.did_change() for m in step.metas)
    return Restored(image.kind, image.key, image.task, "restored" if changed else "unchanged")


def settle_host(reads: HostReads, images: list[PreImage], handlers: list[dict[str, Any]]
                ) -> tuple[HostPlan, list[tuple[str, Step]]]:
    """The second phase of one host: what its kinds restore once the first phase ran
    (`images`, of `Kind.later`), then the notified handlers that still apply; each step with
    the handler's name ("" for a resource)."""
    plan = HostPlan(reads, "", [], images)
    for kind in KINDS.values():
        if kind.settle is not None:
            kind.settle(plan, [i for i in images if i.kind == kind.name])
    steps = [("", step) for step in plan.body]
    for handler in handlers:
        if not service.handler_runs(plan, handler):
            continue
        step = Step(PreImage(-1, "handler", handler["name"], "", "", False))
        module = modules.lookup(handler["module"], {})
        try:
            calls = module.build(dict(handler["args"]), HostContext(reads.host, {}))
        except (ValueError, InputError) as err:
            step.note = str(err)
            calls = []
        for call in calls:
            plan.add(step, call.op, **call.kwargs)
        steps.append((handler["name"], step))
    return plan, steps


def _second_phase(inventory: Inventory,
                  work: dict[str, tuple[list[PreImage], list[dict[str, Any]]]],
                  report: RollbackReport, sudo: bool) -> None:
    """Services back to running and enabled as they were, then the notified handlers, in a
    fresh State that sees the host as the first phase left it: a restart is skipped for a
    service that will not be running, and a unit that failed meanwhile is reset first."""
    session = open_session(inventory, list(work))
    for name, why in session.unreachable.items():
        report.hosts[name].error = why
    added: dict[str, list[tuple[str, Step]]] = {}
    with ctx_state.use(session.state):
        for name, host in session.hosts.items():
            images, handlers = work[name]
            plan, steps = settle_host(HostReads(host, sudo), images, handlers)
            _add_ops(session.state, host, plan, sudo)
            if steps:
                added[name] = steps
    if added:
        try:
            run_ops(session.state)
        except PyinfraError:
            pass
    for name, ran in added.items():
        for handler_name, step in ran:
            outcome = _outcome(step)
            if handler_name:
                report.hosts[name].handlers.append(
                    f"{handler_name}: {'failed' if outcome.status == 'failed' else 'ran'}")
                if outcome.status == "failed":
                    report.hosts[name].error = f"handler {handler_name}: {outcome.detail}"
            else:
                report.hosts[name].items.append(outcome)
        gone = session.lost(name)
        if gone and report.hosts[name].failed:
            report.hosts[name].error = gone
