"""Apply (or plan) a play on a set of hosts, in Ansible's order, through pyinfra.

Each host walks the play as Ansible runs it (facts; pre_tasks; handlers; roles; tasks;
handlers; post_tasks; handlers), with Ansible's variable precedence. A task's arguments are
rendered with that host's variables, its `when` evaluated, its loop expanded, and its module
turns it into pyinfra operations added with `add_op(..., host=host)`; a controller module
(set_fact, include_vars, include_tasks, assert...) runs in its place (engine/actions.py).

Operations are added, then run, in segments (engine/segment.py): a host adds its tasks until
one reads a result that is not known yet (a variable registered in this segment, a handler
flush, a task reading the host after predicted changes); then every host's added operations
run together, registered results are filled in (engine/registered.py), and the hosts go on.
A play whose tasks read no runtime result is one segment: one pyinfra run, as before.

A plan stops after adding operations: pyinfra predicts from facts what would change, and file
previews turn that into unified diffs; a task that reads a result only an apply produces is
shown as known after apply. Tasks with `check_mode: false` run in a plan, as in Ansible.

The State is built with pyinfra's change detection on, because the journal needs each task's
prediction before anything runs. That reads every operation's facts when it is added, and
running reads them again (pyinfra keeps no fact cache). A host where no operation of a segment
is predicted to run any command is therefore settled for that segment: its predictions were
made from its true state, so running them would read the same facts again and do nothing.
Settled hosts sit the segment out, and their tasks are reported ok from the predictions.

Errors are failures. A task that cannot be prepared on a host (a template raising, `{{ 1 / 0 }}`;
an argument of the wrong type; a module or pyinfra refusing the operation) fails that host with
the task's file:line and one line of why, and the other hosts go on, as in Ansible; the failed
host runs nothing more of its segment (earlier segments ran). The same input error on every
host before anything ran is said once. An exception while pyinfra runs an operation fails that
operation on that host only, and a journal that cannot be written (or sealed) fails its host.
A failed task stops its host, unless `ignore_errors` or a block's `rescue` takes it.
"""

from __future__ import annotations

import difflib
import inspect
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import gevent
from pyinfra.api.command import FunctionCommand
from pyinfra.api.deploy import add_deploy
from pyinfra.api.operation import add_op
from pyinfra.context import ctx_state
from pyinfra.operations import python

from orchestrator import journal
from orchestrator.engine import gather as gathering
from orchestrator.engine import registered, segment
from orchestrator.engine.actions import ACTIONS, MAY_FAIL, READS_HOST, ActionContext
from orchestrator.engine.factcache import facts_read_once
from orchestrator.engine.hostrun import HostMemory, HostRun
from orchestrator.engine.reads import names_read, waits_for
from orchestrator.engine.registered import NotKnownYet
from orchestrator.engine.results import (
    CHANGED,
    FAILED,
    NOT_RUN,
    OK,
    RESCUED,
    SKIPPED,
    UNKNOWN,
    HostResult,
    PlayResult,
    RunResult,
    TaskResult,
)
from orchestrator.engine.variables import OMIT, LazyFacts, play_variables, task_variables
from orchestrator.errors import HostError, InputError, OrcError
from orchestrator.events import (
    HostDone,
    JournalRecorded,
    Listener,
    Message,
    OperationDone,
    PlayStarted,
    TaskFailed,
    ignore,
)
from orchestrator.faults import fault_point
from orchestrator.inventory import Inventory
from orchestrator.load import yamlfile
from orchestrator.load.includevars import search_path
from orchestrator.load.loops import Loop
from orchestrator.load.playbook import Play, Playbook, roles_path
from orchestrator.load.roles import with_keywords
from orchestrator.load.tasks import Block, Task, flatten, parse_tasks
from orchestrator.load.vars_files import VarsFiles, load_vars_files
from orchestrator.modules.base import REQUIRED, FilePreview, HostContext, Module, OpCall
from orchestrator.modules.commands import RC_MARK
from orchestrator.secrets import masking
from orchestrator.templating.render import Variables, evaluate, render_value
from orchestrator.transport.session import Session, open_session

@dataclass(frozen=True)
class RunOptions:
    extra_vars: dict[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    limit: str | None = None
    dry_run: bool = False
    allow_downgrade: bool = False  # deploy a secret older than the hosts already have
    run_id: str | None = None  # set: pre-images are recorded on each host before it changes
    keep_runs: int = journal.KEEP_RUNS  # journals kept on each host (0: all)
    forks: int | None = None  # hosts worked on at once (Ansible's --forks); None: up to 50


@dataclass
class _Record:
    """One task (one loop item) on one host, and the pyinfra operations it became."""

    task: Task
    result: TaskResult
    metas: list[Any] = field(default_factory=list)
    previews: list[FilePreview] = field(default_factory=list)
    counts_as_change: bool = True  # False with `changed_when: false`
    no_log: bool = False  # Ansible's `no_log`: the result is not shown
    notifiers: list[_Record] | None = None  # set for handlers: the records that notify them
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

    def changed(self) -> bool:
        if self.action:
            return self.result.status == CHANGED
        if self.final and self.metas:
            return self.did_change
        return self.counts_as_change and any(m.is_complete() and m.did_change()
                                             for m in self.metas)

    def will_change(self) -> bool:
        if self.notifiers is not None and not any(r.will_change() for r in self.notifiers):
            return False
        return self.counts_as_change and any(m.will_change for m in self.metas)


def tags_selected(tags: frozenset[str], options: RunOptions) -> bool:
    """Ansible's --tags/--skip-tags rule; `always` runs unless skipped by name."""
    if options.tags and not (tags & options.tags or "always" in tags):
        return False
    return not (tags & options.skip_tags)


def selected(task: Task, options: RunOptions, extra_tags: frozenset[str] = frozenset()) -> bool:
    return tags_selected(task.tags | extra_tags, options)


def run_playbook(playbook: Playbook, inventory: Inventory, options: RunOptions,
                 on_event: Listener | None = None) -> RunResult:
    run = RunResult(str(playbook.path), options.dry_run)
    failed: set[str] = set()
    memory: dict[str, HostMemory] = {}
    for play in playbook.plays:
        names = [n for n in inventory.select(play.hosts, options.limit) if n not in failed]
        result = run_play(play, inventory, names, options, on_event, memory)
        failed |= set(result.failed_hosts)  # like Ansible, a failed host sits out later plays
        run.plays.append(result)
    return run


def run_play(play: Play, inventory: Inventory, names: list[str], options: RunOptions,
             on_event: Listener | None = None, memory: dict[str, HostMemory] | None = None
             ) -> PlayResult:
    """Run (or plan) one play on `names`, segment by segment (see the module docstring).
    `memory` carries each host's facts (gathered, set_fact, register) from play to play of one
    run, as Ansible keeps them; it is read and written here."""
    emit = on_event or ignore
    result = PlayResult(play.name)
    if not names:
        return result
    emit(PlayStarted(play.name, tuple(names)))
    vars_files = load_vars_files(play.vars_files)
    base = play_variables(play, inventory, names, vars_files)
    play_become = play.flag("become", Variables({**base, **options.extra_vars}))
    progress = _Progress(emit)
    session = open_session(inventory, names, on_op=progress.on_op, parallel=options.forks)
    progress.session = session
    for name in names:
        if name in session.unreachable:
            result.hosts[name] = HostResult(name, error=session.unreachable[name],
                                            unreachable=True)
            emit(HostDone(name, "unreachable", session.unreachable[name]))
    _check_secret_versions(play_become, vars_files, session, options, result)
    ctx = _PlayRun(play, inventory, session, base, options, play_become, emit=emit)
    memory = {} if memory is None else memory
    runs = {name: HostRun(name, host) for name, host in session.hosts.items()}
    for name, run in runs.items():
        if name in memory:
            run.gathered = dict(memory[name].gathered or {}) or None
            run.facts_set = dict(memory[name].facts_set)
    programs = {name: _program(ctx, run) for name, run in runs.items()}
    errors: dict[str, OrcError] = {}  # hosts whose preparation failed, and why
    batches: dict[str, list[journal.Batch]] = {}
    stopped: str | None = None
    nothing_ran = True  # no host has been touched yet
    while programs:
        start = segment.mark(session.state)
        for run in runs.values():
            run.segment_start = len(run.records)
        outcomes = _advance(programs, runs, session)
        failing = {n: e for n, e in outcomes.items() if isinstance(e, Exception)}
        if nothing_ran and failing and len(failing) == len(outcomes) and len(
                {str(e) for e in failing.values()}) == 1 and all(
                isinstance(e, InputError) for e in failing.values()):
            # the same error on every host before anything ran: the input is wrong whatever
            # the host (an undefined variable, a bad argument); said once
            error = next(iter(failing.values()))
            raise type(error)(masking.hide(error.message), path=error.path, line=error.line)
        for name, value in outcomes.items():
            if value is not None:  # finished, or failed: its program ends here
                del programs[name]
            if isinstance(value, Exception):
                # the task that cannot be prepared fails its host there: what came before it
                # runs, as in Ansible, and nothing after it
                errors[name] = value
                runs[name].stopped = True
        current = {name: run.segment() for name, run in runs.items()}
        for name, records in current.items():
            progress.know(name, records)
        new = segment.added(session.state, start)
        new = {h: hashes for h, hashes in new.items() if h in session.state.active_hosts}
        if options.run_id and not options.dry_run and new:
            for name, batch in _record_journals(ctx, runs, current, new, result,
                                                emit).items():
                batches.setdefault(name, []).append(batch)
            journal.crash_point()
        settled: set[str] = set()
        if options.dry_run:
            new = _forced(new, current, session)  # a plan runs only `check_mode: false` tasks
        else:
            settled = _settle(current, session)
            new = {h: hashes for h, hashes in new.items() if h.name not in settled}
        if new:
            nothing_ran = False
            try:
                segment.run(session.state, new)
            except Exception as exc:  # noqa: BLE001 - the run stopped: its hosts fail below
                stopped = _one_line(exc)
            progress.flush()
        for name in settled:  # it sat this segment out and goes on with the next
            session.state.active_hosts.add(session.hosts[name])
        for name, records in current.items():
            _complete(ctx, runs[name], records, settled=name in settled)
            if runs[name].stopped:
                programs.pop(name, None)
                if not runs[name].ended:
                    session.state.active_hosts.discard(session.hosts[name])
            elif name in programs:
                # a failure ignored or rescued: pyinfra set the host aside, the play goes on
                session.state.active_hosts.add(session.hosts[name])
        if stopped:
            programs.clear()
    for name, run in runs.items():
        memory[name] = HostMemory(run.gathered, dict(run.facts_set))
    sealing: dict[str, str] = {}
    if batches:
        sealing = _seal_journals(play_become, batches, session)
    for name, run in runs.items():
        if name in result.hosts:  # dropped before it was prepared (its secret versions)
            continue
        host_result = _collect(name, run.records, session, stopped=stopped)
        if name in errors and not any(t.status == FAILED for t in host_result.tasks):
            host_result.error = masking.hide(str(errors[name]))
        if name in errors and session.lost(name):
            # not the task's fault: the host went away while it was prepared
            host_result.unreachable, host_result.error = True, session.lost(name)
            for task in host_result.tasks:
                task.error = host_result.error if task.status == FAILED else task.error
        if name in sealing and not host_result.failed:
            host_result.error = sealing[name]
        for record in run.records:
            if record.no_log:
                _hide_no_log(record.result)
        _hide_secrets(host_result)
        result.hosts[name] = host_result
        emit(HostDone(name, host_result.status, host_result.reason))
    return result


_DONE = object()


def _advance(programs: dict[str, Iterator[Any]], runs: dict[str, HostRun], session: Session
             ) -> dict[str, Any]:
    """Move each host's program to its next flush (None), its end (_DONE) or an error (the
    exception), all hosts at once: one greenlet per host, as pyinfra prepares hosts, so facts
    are read concurrently. pyinfra's state context is process-wide, so it is held around all
    of them (a greenlet leaving add_op would otherwise unset it under the others)."""
    def advance(name: str) -> Any:
        run = runs[name]
        try:
            with facts_read_once(run.host):  # nothing runs while operations are added
                next(programs[name])
        except StopIteration:
            return _DONE
        except Exception as exc:  # a value, so gevent never prints it as a traceback
            return exc if isinstance(exc, OrcError) else HostError(_one_line(exc))
        return None

    with ctx_state.use(session.state):
        greenlets = {name: gevent.spawn(advance, name) for name in programs}
        gevent.joinall(list(greenlets.values()))
    return {name: greenlet.value for name, greenlet in greenlets.items()}


def _unprepared_segment(run: HostRun) -> None:
    """The records of a segment its host could not prepare whole: none of them runs; the task
    that failed carries the reason."""
    run.stopped = True
    for record in run.segment():
        if record.result.status not in (FAILED, SKIPPED):
            record.result.status = NOT_RUN
        record.result.error = masking.hide(record.result.error)
        record.metas = []
        record.final = True


def _forced(new: dict[Any, list[str]], current: dict[str, list[_Record]], session: Session
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


def _hide_no_log(task: TaskResult) -> None:
    """Ansible's `no_log: true`: the task's result (error, diff, loop item) is not shown."""
    task.error = task.error and masking.NO_LOG
    task.diff = None
    task.item = None if task.item is None else masking.MASK


def _hide_secrets(host: HostResult) -> None:
    """Secret values, and every value rendered from one, never reach a report, the run index
    or the terminal: masked whole in each field of the host's result (`masking.hide`)."""
    host.error = masking.hide(host.error)
    for task in host.tasks:
        task.name = masking.hide(task.name) or task.name
        task.diff = masking.hide(task.diff)
        task.error = masking.hide(task.error)
        task.item = masking.hide_value(task.item)


class _Progress:
    """pyinfra's per-operation callbacks as orc events while operations run: `op` (a host
    finished a task's operation) and `task-failed` (host, task, reason) the moment it fails,
    not when the wave ends. Also the journal's crash point after each operation."""

    def __init__(self, emit: Listener):
        self.emit = emit
        self.session: Session | None = None
        self.records: dict[tuple[str, str], _Record] = {}  # (host, operation hash) -> task
        self.reporters: list[Any] = []

    def know(self, host: str, records: list[_Record]) -> None:
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
        reason = self.session.lost(host) or (_error_text(meta) if meta.is_complete()
                                             else "operation failed")
        self.emit(TaskFailed(host, task.name, task.where, masking.hide(reason)))

    def flush(self) -> None:
        gevent.joinall(self.reporters)


def _would_run(records: list[_Record]) -> bool:
    """Whether running a host's operations could execute anything: some operation that is not
    skipped or held back by `check_mode` is predicted to run commands (a handler is only added
    once notified, so it counts). `changed_when` does not count here: a command whose change
    is ignored still has to run."""
    return any(meta.will_change for record in records
               if not record.final and not record.check_mode
               for meta in record.metas)


def _settle(records: dict[str, list[_Record]], session: Session) -> set[str]:
    """Take the hosts where nothing would run out of the State before `run_ops` (see the module
    docstring): running them would only read their facts a second time."""
    settled = set()
    for name, host_records in records.items():
        host = session.hosts[name]
        if host in session.state.active_hosts and not _would_run(host_records):
            session.state.active_hosts.discard(host)
            settled.add(name)
    return settled


def _check_secret_versions(play_become: bool | None, vars_files: VarsFiles, session: Session,
                           options: RunOptions, result: PlayResult) -> None:
    """Refuse a replayed (older) secret file or signer policy before any host is touched.

    Each host's own record decides (see `replay`), so a controller without state (a fresh CI
    clone) is refused too; an apply then records the new versions there and in the store
    `orc secrets verify` reads. A host whose record cannot be read or written runs nothing."""
    if not vars_files.secret_files:
        return
    from orchestrator.secrets import replay
    from orchestrator.secrets.policy import find_root

    versions = vars_files.versions()
    hosts = dict(session.hosts)

    def read(name: str) -> Any:
        try:
            return replay.read_host(hosts[name], _journal_sudo(play_become, hosts[name]))
        except Exception as exc:  # a value, so gevent never prints it as a traceback
            return exc

    jobs = {name: gevent.spawn(read, name) for name in hosts}
    gevent.joinall(list(jobs.values()))
    records: dict[str, dict[str, int]] = {}
    for name, job in jobs.items():
        if isinstance(job.value, Exception):
            _drop_host(name, f"secret versions: {job.value}", session, result)
        else:
            records[name] = replay.check_host(name, job.value, versions, options.allow_downgrade)
    if options.dry_run:
        return
    stores = {s.name: replay.default_store(find_root(Path(s.path).resolve().parent))
              for s in vars_files.secret_files}
    for secret in vars_files.secret_files:
        for name, version in secret.versions.items():
            replay.check_against_store(stores[secret.name], name, version,
                                       options.allow_downgrade)
            for host in records:
                replay.check_and_record(stores[secret.name], host, name, version,
                                        options.allow_downgrade)

    def write(name: str) -> Exception | None:
        try:
            replay.write_host(hosts[name], records[name],
                              _journal_sudo(play_become, hosts[name]))
        except Exception as exc:  # noqa: BLE001 - reported as the host's failure below
            return exc
        return None

    jobs = {name: gevent.spawn(write, name) for name in records}
    gevent.joinall(list(jobs.values()))
    for name, job in jobs.items():
        if job.value is not None:
            _drop_host(name, f"secret versions: {job.value}", session, result)


def _drop_host(name: str, error: str, session: Session, result: PlayResult) -> None:
    """A host that fails before it is prepared: reported failed, and nothing runs on it."""
    result.hosts[name] = HostResult(name, error=error, unreachable=False)
    host = session.hosts.pop(name)
    session.state.active_hosts.discard(host)


@dataclass
class _PlayRun:
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
class _Scope:
    """Where a task sits: its role, the tags and conditions it inherits from its role entry or
    include, and an include's own `vars`."""

    ref: Any = None
    role: Any = None
    tags: frozenset[str] = frozenset()
    when: Any = None
    vars: dict[str, Any] = field(default_factory=dict)


_FLUSH = "flush"  # what a host's program yields: run what was added, then go on


def _variables(ctx: _PlayRun, run: HostRun, task: Task, scope: _Scope) -> Variables:
    item = task if not scope.vars else replace(task, vars={**scope.vars, **task.vars})
    ref, role = scope.ref, scope.role
    if task.role is not None and getattr(role, "name", None) != task.role:
        ref, role = ctx.role_of(task)  # a task an import_role brought in sees its own role
    return task_variables(ctx.base, ctx.inventory, run.name, run.lazy_facts, item,
                          ctx.options.extra_vars, role=role, ref=ref,
                          gathered=run.gathered, runtime=run.runtime,
                          check_mode=ctx.options.dry_run)


def _program(ctx: _PlayRun, run: HostRun) -> Iterator[str]:
    """One host's way through the play, in Ansible's order: facts, pre_tasks, handlers, roles
    (each with its deploy.py), tasks, handlers, post_tasks, handlers. It yields `_FLUSH` where
    what was added must run before it can go on."""
    play = ctx.play
    run.lazy_facts = LazyFacts(run.host)
    gather = play.gather_facts
    if isinstance(gather, str):
        gather = play.flag("gather_facts", Variables({**ctx.base, **ctx.options.extra_vars}))
    if gather is not False:
        facts = gathering.gather(run.host, subset=play.gather_subset or ("all",),
                                 become=bool(ctx.play_become), become_user=play.become_user)
        run.gathered = gathering.as_variables(facts)
    yield from _walk(ctx, run, play.pre_tasks, _Scope(tags=frozenset()))
    yield from _flush_handlers(ctx, run)
    for ref, role in play.roles:
        scope = _Scope(ref, role, ref.tags, ref.when)
        yield from _walk(ctx, run, role.tasks, scope)
        if role.deploys and tags_selected(ref.tags, ctx.options) and not run.stopped:
            # deploy.py has no tags or `when` of its own: the role's, from the play, decide
            variables = _variables(ctx, run, _deploy_task(role), scope)
            if ref.when is None or evaluate(ref.when, variables, str(role.path)):
                run.records += _add_deploys(role, run.host, ctx.session, variables)
    yield from _walk(ctx, run, play.tasks, _Scope())
    yield from _flush_handlers(ctx, run)
    yield from _walk(ctx, run, play.post_tasks, _Scope())
    yield from _flush_handlers(ctx, run)


def _walk(ctx: _PlayRun, run: HostRun, items: list[Any], scope: _Scope) -> Iterator[str]:
    for task in items:
        if run.stopped or run.block_failed:
            return
        if isinstance(task, Block):
            yield from _block(ctx, run, task, scope)
            continue
        if not selected(task, ctx.options, scope.tags):
            continue
        action = task.module.name if task.module.action else None
        if waits_for(task, run.pending, scope.when) or (
                action in READS_HOST | MAY_FAIL and run.will_change()) or (
                action == "meta" and task.args.get("_raw_params") == "flush_handlers"):
            yield _FLUSH
            if run.stopped:
                return
        if action == "meta":
            yield from _meta(ctx, run, task, scope)
        elif action in ("include_tasks", "include_role"):
            yield from _include(ctx, run, task, scope)
        else:
            variables = _variables(ctx, run, task, scope)
            _add_task(task, run, ctx, variables, scope.when,
                      refresh=lambda: _variables(ctx, run, task, scope))
        if run.flush_after:  # the task's failure is decided after it runs
            run.flush_after = False
            yield _FLUSH


def _block(ctx: _PlayRun, run: HostRun, block: Block, scope: _Scope) -> Iterator[str]:
    """`block`, then `rescue` where a task of the block failed (the failure is then forgiven
    when the rescue succeeds), then `always`, as Ansible runs them."""
    mark = len(run.records)
    if block.rescue:
        run.rescuing += 1  # failures inside wait for the rescue, not stop the host
    try:
        yield from _walk(ctx, run, list(block.block), scope)
        if block.rescue:
            yield _FLUSH
    finally:
        if block.rescue:
            run.rescuing -= 1
    failed = [r for r in run.records[mark:] if r.result.status == FAILED]
    if block.rescue and failed:
        for record in failed:
            record.rescued = True
        for record in run.records[mark:]:
            if record.result.status == NOT_RUN:  # after the failure: the block ended there
                record.unreached = True
        run.stopped = run.block_failed = False
        run.facts_set["ansible_failed_task"] = {"name": failed[0].task.name}
        run.facts_set["ansible_failed_result"] = failed[0].registered or {"failed": True}
        yield from _walk(ctx, run, list(block.rescue), scope)
    if block.always:
        was_stopped = run.stopped
        run.stopped = False
        yield from _walk(ctx, run, list(block.always), scope)
        run.stopped = run.stopped or was_stopped


def _meta(ctx: _PlayRun, run: HostRun, task: Task, scope: _Scope) -> Iterator[str]:
    what = task.args["_raw_params"]
    variables = _variables(ctx, run, task, scope)
    if not _holds(task, scope.when, variables):
        return  # a meta task reports nothing, as in Ansible's output
    if what == "flush_handlers":
        yield from _flush_handlers(ctx, run)
    elif what == "end_host":
        run.stopped = run.ended = True
    elif what == "noop":
        pass
    else:
        raise InputError(f"meta: {what} is not supported by orc (flush_handlers, end_host "
                         "and noop are)", **task.location)


def _include(ctx: _PlayRun, run: HostRun, task: Task, scope: _Scope) -> Iterator[str]:
    """`include_tasks` / `include_role`: decided and loaded when reached, per host and per
    loop item (the file name may be a template), then run in the include's place with its
    `vars` and the loop variable."""
    variables = _variables(ctx, run, task, scope)
    with _stage("loop", task):
        items, pause = _loop_items(task, variables)
    loop = task.loop
    if loop is not None and not items:  # an empty loop: the include is skipped
        _action_record(task, run).result.status = SKIPPED
    for index, item in enumerate(items):
        looped = loop.scope(index, item, items) if loop is not None else {}
        scoped = variables.child(**looped) if looped else variables
        with _stage("loop_control: label", task):
            label = loop.label(scoped) if loop is not None else None
        record = _action_record(task, run, label)
        if pause and index:  # loop_control.pause: between two items' included tasks
            add_op(ctx.session.state, python.call, Loop.wait, pause, host=run.host,
                   name=f"{task.name} (pause {pause:g}s)")
        if not _holds(task, scope.when, scoped):
            record.result.status = SKIPPED
            continue
        with _stage("template", task):
            args = render_value(task.args, scoped, task.where)
        record.result.status = OK
        inner = _Scope(scope.ref, scope.role, scope.tags, None,
                       {**scope.vars, **task.vars, **looped})
        if task.module.name == "include_tasks":
            name = args.get("file") or args.get("_raw_params")
            if not name:
                raise InputError("include_tasks: needs a file", **task.location)
            tasks = _included_tasks(ctx, task, str(name), scope)
            yield from _walk(ctx, run, _applied(tasks, args.get("apply"), task), inner)
            continue
        yield from _include_role(ctx, run, task, args, inner)


def _include_role(ctx: _PlayRun, run: HostRun, task: Task, args: dict[str, Any],
                  inner: _Scope) -> Iterator[str]:
    """A role's tasks (its `tasks_from` file) in the include's place, seeing the role's
    defaults and vars; its handlers join the play's."""
    from orchestrator.load.imports import Loading
    from orchestrator.load.roles import FILE_KEYS, RoleRef, load_role

    # tasks_from, vars_from, defaults_from, handlers_from pick the role's files
    ref = RoleRef(str(args["name"]), files={k: str(args[k]) for k in FILE_KEYS if args.get(k)},
                  rolespec_validate=bool(args["rolespec_validate"]))
    base = Path(ctx.play.path).parent
    role = load_role(ref, roles_path(base), task.location, Loading(roles_path(base), base))
    if not any(r.name == role.name for _, r in ctx.extra_roles):
        ctx.extra_roles.append((ref, role))
    tasks = _applied(role.tasks, args.get("apply"), task)
    yield from _walk(ctx, run, tasks, _Scope(ref, role, inner.tags, None, inner.vars))


_APPLIED = ("become", "become_user", "ignore_errors", "check_mode", "no_log")


def _applied(tasks: list[Any], apply: Any, task: Task) -> list[Any]:
    """An include's `apply:` keywords given to each included task (its own values win), and
    its tags added to theirs, as Ansible's `apply` does."""
    if not apply:
        return tasks
    if not isinstance(apply, dict):
        raise InputError(f"{task.module.name}: apply: expected a mapping of keywords",
                         **task.location)
    unknown = set(apply) - {*_APPLIED, "tags"}
    if unknown:
        raise InputError(f"{task.module.name}: apply: orc applies {', '.join(_APPLIED)} and "
                         f"tags, not {', '.join(sorted(unknown))}", **task.location)
    tags = frozenset([apply["tags"]] if isinstance(apply.get("tags"), str)
                     else apply.get("tags") or [])
    keywords = {k: v for k, v in apply.items() if k in _APPLIED}

    def one(item: Any) -> Any:
        if isinstance(item, Block):
            return replace(item, **{key: tuple(one(t) for t in getattr(item, key))
                                    for key in ("block", "rescue", "always")})
        changed = with_keywords(item, keywords)
        return replace(changed, tags=changed.tags | tags) if tags else changed

    return [one(t) for t in tasks]


def _included_tasks(ctx: _PlayRun, task: Task, name: str, scope: _Scope,
                    role: str | None = None) -> list[Any]:
    """The tasks of an included file, found as Ansible finds it (beside the including file,
    then in the role's tasks/), loaded once per run."""
    candidates = [Path(name)] if Path(name).is_absolute() else [
        Path(task.path).parent / name,
        *([scope.role.path / "tasks" / name] if scope.role is not None else []),
        Path(ctx.play.path).parent / name]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise InputError(f"{task.module.name}: {name!r} not found (looked in "
                         f"{', '.join(str(c.parent) for c in candidates)})", **task.location)
    key = str(found)
    if key not in ctx.included:
        ctx.included[key] = parse_tasks(
            yamlfile.load(found), path=key, role=role or task.role,
            role_path=scope.role.path if scope.role is not None else None,
            playbook_dir=Path(ctx.play.path).parent)
    return ctx.included[key]


def _flush_handlers(ctx: _PlayRun, run: HostRun) -> Iterator[str]:
    """Run the handlers notified since the last flush, in the order they are defined, each
    once; a handler's own notifications are flushed in turn (Ansible's handlers notifying
    handlers). A notification counts when its task changed (in a plan: would change)."""
    handlers = [*ctx.play.all_handlers(), *(h for _, role in ctx.extra_roles
                                             for h in flatten(role.handlers))]
    known = {h.name for h in handlers} | {k for h in handlers for k in h.listen}
    for _ in range(len(handlers) + 1):
        if run.stopped:
            return
        yield _FLUSH
        if run.stopped:
            return
        waiting = [r for r in run.records if r.task.notify and not r.notified]
        if not waiting:
            return
        for record in waiting:
            record.notified = True
            for name in record.task.notify:
                if name not in known:
                    raise InputError(f"notify {name!r}: no handler of that name",
                                     **record.task.location)
        changed = [r for r in waiting if (r.will_change() if ctx.options.dry_run and not
                                          r.forced else r.changed())]
        added = False
        for handler in handlers:
            keys = {handler.name, *handler.listen}
            notifiers = [r for r in changed if keys & set(r.task.notify)]
            if not notifiers:
                continue
            ref, role = ctx.role_of(handler)
            variables = _variables(ctx, run, handler, _Scope(ref, role))
            _add_task(handler, run, ctx, variables, None, notifiers)
            added = True
        if not added:
            return


def _holds(task: Task, inherited: Any, variables: Variables) -> bool:
    """Whether the task's `when` and the one it inherits (its role entry's, an include's) both
    hold on this host."""
    conditions = [c for c in (inherited, task.when) if c is not None]
    with _stage("when", task):
        return all(evaluate(c, variables, task.where) for c in conditions)


def _action_record(task: Task, run: HostRun, item: Any = None) -> _Record:
    """The record of a task the controller runs (include, meta, set_fact...): its status is
    decided when it is reached, never by an operation."""
    record = _Record(task, TaskResult(task.name, task.where, NOT_RUN, role=task.role, item=item),
                     action=True, final=True)
    run.records.append(record)
    return record


def _add_task(task: Task, run: HostRun, ctx: _PlayRun, variables: Variables, role_when: Any,
              notifiers: list[_Record] | None = None,
              refresh: Callable[[], Variables] | None = None) -> None:
    """Add one task's operations on one host (or run it, for a controller module). Whatever
    goes wrong on the way (rendering, a module's build, pyinfra's own checks of the operation)
    fails this task on this host with one line naming it, as an OrcError. `refresh` gives the
    task's variables again: a looped set_fact or include_vars sees what its earlier items set,
    as in Ansible (`set_fact: {all: "{{ all + [item] }}"}` gathers every item)."""
    start = len(run.records)

    def new_record(item: Any) -> _Record:
        result = TaskResult(task.name, task.where, NOT_RUN, role=task.role,
                            handler=notifiers is not None, item=item)
        record = _Record(task, result, notifiers=notifiers, action=task.module.action,
                         final=task.module.action)
        run.records.append(record)
        return record

    try:
        items, pause = _loop_items(task, variables)
    except NotKnownYet as exc:
        _unknown(new_record(None), exc)
        _register(task, run, run.records[start:], ctx)
        return
    except Exception as exc:
        _fail(new_record(None), exc, task, "loop")
    loop = task.loop
    if loop is not None and not items:  # an empty loop: the task is skipped, as in Ansible
        empty = new_record(None)
        empty.result.status, empty.final = SKIPPED, True
    for index, item in enumerate(items):
        if index and task.module.name in ("set_fact", "include_vars") and refresh is not None:
            variables = refresh()
        scoped = variables.child(**loop.scope(index, item, items)) if loop else variables
        try:
            record = new_record(loop.label(scoped) if loop else None)
        except NotKnownYet as exc:  # a plan: the label reads a result not known yet
            _unknown(new_record(item), exc)
            continue
        except Exception as exc:
            _fail(new_record(item), exc, task, "loop_control: label")
        record.variables = scoped
        if pause and index:  # loop_control.pause: between two items, while the task runs
            add_op(ctx.session.state, python.call, Loop.wait, pause, host=run.host,
                   name=f"{task.name} (pause {pause:g}s)")
        try:
            if record.action:
                _act(record, scoped, run, ctx, role_when)
            else:
                _prepare(record, scoped, run, ctx, role_when)
        except NotKnownYet as exc:
            _unknown(record, exc)
        except Exception as exc:
            _fail(record, exc, task, task.module.name)
    _register(task, run, run.records[start:], ctx)


def _unknown(record: _Record, exc: NotKnownYet) -> None:
    """A plan's task that reads what only an apply knows: shown as such, never guessed."""
    record.result.status = UNKNOWN
    record.result.error = exc.message
    record.final = True
    record.metas = []


def _register(task: Task, run: HostRun, records: list[_Record], ctx: _PlayRun) -> None:
    """`register:`: known now for tasks decided here (skipped, controller modules), or once
    the segment ran (`pending`); a task whose failure depends on its result ends the segment."""
    if task.failed_when is not None or task.until is not None or any(
            r.capture_rc for r in records):
        if any(r.metas for r in records):
            run.flush_after = True
    if task.register is None:
        return
    if all(r.final for r in records):
        run.facts_set[task.register] = _registered_value(task, records)
    else:
        run.pending[task.register] = records
        run.facts_set.pop(task.register, None)


def _registered_value(task: Task, records: list[_Record]) -> Any:
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


def _act(record: _Record, scoped: Variables, run: HostRun, ctx: _PlayRun, role_when: Any
         ) -> None:
    """Run a controller module in the task's place (see engine/actions.py)."""
    task, result = record.task, record.result
    if not _holds(task, role_when, scoped):
        result.status = SKIPPED
        record.registered = registered.skipped()
        return
    with _stage("template", task):
        own = task.flag("no_log", scoped)
        record.no_log = bool(own if own is not None else ctx.play.flag("no_log", scoped))
        record.ignore_errors = bool(task.flag("ignore_errors", scoped))
        args = render_value(task.args, scoped, task.where) if task.module.name != "assert" \
            else dict(task.args)
    args = _without_omitted(task, args)
    args = task.module.convert(args, task.location)
    _, role = ctx.role_of(task)
    action = ACTIONS[task.module.name]
    with _stage(task.module.name, task):
        outcome = action(args, ActionContext(task, run, scoped, search_path(
            Path(ctx.play.path).parent, Path(task.path), role.path if role else None),
            ctx.options.dry_run))
    result.status = outcome.status
    result.error = outcome.error
    result.msg = outcome.msg
    record.registered = outcome.registered
    if outcome.msg is not None and task.module.name == "debug":
        shown = masking.NO_LOG if record.no_log else masking.hide(outcome.msg)
        result.msg = shown
        ctx.emit(Message(run.name, task.name, shown))
    if outcome.status == FAILED:
        if record.ignore_errors:
            result.status, result.error = OK, f"ignored: {outcome.error}"
        elif run.rescuing:
            run.block_failed = True
        else:
            run.stopped = True


def _without_omitted(task: Task, args: dict[str, Any]) -> dict[str, Any]:
    """Ansible's `omit`: an argument rendered to it is as if never given (its default)."""
    kept = {}
    for key, value in args.items():
        if isinstance(value, str) and value == OMIT:
            default = task.module.args.get(key)
            if default is REQUIRED:
                raise InputError(f"{task.module.name}: argument {key!r} is required and cannot "
                                 "be omitted", **task.location)
            if key in task.module.args:
                kept[key] = default
            continue
        kept[key] = value
    return kept


def _loop_items(task: Task, variables: Variables) -> tuple[list[Any], float]:
    """The task's loop items on this host (`[None]`: no loop) and the pause between them."""
    if task.loop is None:
        return [None], 0.0
    with _stage("loop", task):
        return task.loop.items(variables), task.loop.pause(variables)


# exceptions whose message says it all; others are named by their type too (KeyError: 'x')
_SELF_EXPLAINED = (OrcError, ValueError, TypeError, ArithmeticError, RecursionError, OSError)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, _SELF_EXPLAINED) else f"{type(exc).__name__}: {text}"


@contextmanager
def _stage(what: str, task: Task) -> Iterator[None]:
    """Any exception but an OrcError (a template's `{{ 1 / 0 }}`, a recursive macro, pyinfra
    refusing an argument) becomes one line naming the task and what was being done."""
    try:
        yield
    except OrcError:
        raise
    except Exception as exc:  # noqa: BLE001 - templates and operations may raise anything
        raise InputError(f"{what}: {_one_line(exc)}", **task.location) from None


def _fail(record: _Record, exc: Exception, task: Task, stage: str) -> NoReturn:
    """Mark `record` failed with the reason, and stop preparing its host (raises)."""
    if isinstance(exc, OrcError):
        error = exc
    else:
        error = InputError(f"{stage}: {_one_line(exc)}", **task.location)
    ours = (error.path, error.line) == (task.path, task.line)
    record.final = True
    record.result.status = FAILED
    record.result.error = error.message if ours else str(error)
    raise error from None


def _prepare(record: _Record, scoped: Variables, run: HostRun, ctx: _PlayRun, role_when: Any
             ) -> None:
    """Render one task (one loop item) for one host and add its pyinfra operations."""
    task, result = record.task, record.result
    play, host, session = ctx.play, run.host, ctx.session
    if not _holds(task, role_when, scoped):
        result.status = SKIPPED
        record.registered = registered.skipped()
        record.final = True
        return
    if task.changed_when is not None:
        if task.register and task.register in names_read(replace(task, args={}, when=None,
                                                                 failed_when=None)):
            record.changed_after = True  # it reads the task's own result: decided after it ran
        else:
            with _stage("changed_when", task):
                record.counts_as_change = evaluate(task.changed_when, scoped, task.where)
    with _stage("template", task):
        own = task.flag("no_log", scoped)
        record.no_log = bool(own if own is not None else play.flag("no_log", scoped))
        check_mode = task.flag("check_mode", scoped)
        record.check_mode = bool(check_mode)
        record.forced = check_mode is False
        record.ignore_errors = bool(task.flag("ignore_errors", scoped))
        task_become = task.flag("become", scoped)
        rendered = render_value(task.args, scoped, task.where)
    args = task.module.convert(_without_omitted(task, rendered), task.location)
    record.capture_rc = task.module.name in ("command", "shell") and (
        task.register is not None or task.failed_when is not None or task.until is not None)
    with _stage("environment", task):
        environment = _task_environment(play, task, scoped)
    host_ctx = HostContext(host, scoped, play.search_dirs(task), task.location,
                           capture_rc=record.capture_rc)
    with _stage(task.module.name, task):
        calls = task.module.build(args, host_ctx)
    become = task_become if task_become is not None else ctx.play_become
    global_args: dict[str, Any] = {"name": task.name}
    if become:
        global_args["_sudo"] = True
        user = task.become_user or play.become_user
        if user:
            global_args["_sudo_user"] = user
    if record.ignore_errors or task.failed_when is not None:
        global_args["_ignore_errors"] = True  # failed_when decides, after the run
    if record.check_mode:
        global_args["_if"] = [lambda: False]
    if environment:
        global_args["_env"] = environment
    if task.until is not None:
        with _stage("until", task):
            global_args.update(_retrying(record, scoped))
    for call in calls:
        try:
            inspect.signature(call.op._inner).bind(**call.kwargs)
        except TypeError as err:
            raise InputError(f"{task.module.name}: {err}", **task.location) from None
        with _stage(task.module.name, task):  # pyinfra reads facts and checks arguments here
            metas = add_op(session.state, call.op, host=host, **global_args, **call.kwargs)
        record.metas.append(metas[host])
        record.calls.append(call)
        if call.preview:
            record.previews.append(call.preview)
        _guard_run(session, host, record)
    if not calls:
        result.status = OK  # nothing to do (e.g. `creates:` already there)
        record.registered = {"changed": False, "failed": False}
        record.final = True


def _task_environment(play: Play, task: Task, scoped: Variables) -> dict[str, str]:
    """Ansible's `environment` (the play's, then the task's on top), rendered for the host;
    values are strings, as the shell sees them."""
    merged: dict[str, Any] = {}
    for value in (play.environment, task.environment):
        rendered = render_value(value, scoped, task.where) if value is not None else None
        if rendered is None:
            continue
        if not isinstance(rendered, dict):
            raise InputError("environment: expected a mapping of environment variables",
                             **task.location)
        merged.update(rendered)
    return {str(k): "" if v is None else str(v) for k, v in merged.items()}


def _retrying(record: _Record, scoped: Variables) -> dict[str, Any]:
    """`until` / `retries` / `delay` as pyinfra's retry arguments: the operation runs again
    (up to `retries` more times, `delay` seconds apart) while the condition, evaluated on the
    task's result as `register` would store it, does not hold."""
    task = record.task
    retries = render_value(task.retries, scoped, task.where) if task.retries is not None else 3
    delay = render_value(task.delay, scoped, task.where) if task.delay is not None else 5
    try:
        retries, delay = int(retries), float(delay)
    except (TypeError, ValueError):
        raise InputError(f"retries/delay must be numbers, got {retries!r}/{delay!r}",
                         **task.location) from None

    def again(output: dict[str, Any]) -> bool:
        stdout, rc = _exit_status(list(output.get("stdout_lines") or []))
        value = registered.of_output(True, bool(rc), stdout,
                                     list(output.get("stderr_lines") or []), rc=rc)
        try:
            return not _until_holds(record, scoped, value)
        except Exception:  # noqa: BLE001 - decided (and reported) once the task ran
            return False

    return {"_retries": max(retries, 0), "_retry_delay": max(delay, 0), "_retry_until": again}


def _until_holds(record: _Record, scoped: Variables, value: dict[str, Any]) -> bool:
    task = record.task
    scope = scoped.child(**({task.register: value} if task.register else {}))
    return evaluate(task.until, scope, task.where)


def _guard_run(session: Session, host: Any, record: _Record) -> None:
    """Make an exception raised while pyinfra runs the operation just added fail that
    operation on this host only (pyinfra would let it stop the run on every host), and keep
    its text for the report."""
    data = session.state.ops[host].get(host.op_hash_order[-1])
    if data is None:
        return
    generate = data.command_generator

    def guarded() -> Any:
        try:
            fault_point("run", host.name)
            yield from generate()
        except Exception as exc:  # noqa: BLE001 - any exception fails this host's operation
            record.run_error = _one_line(exc)
            yield FunctionCommand(_failed_operation, (), {})

    data.command_generator = guarded


def _failed_operation(state: Any, host: Any) -> bool:
    return False  # pyinfra counts the command, and so the operation, as failed on this host


def _journal_sudo(play_become: bool | None, host: Any) -> bool:
    """The journal lives under /var/lib/orc: root's, through sudo when the play or the
    inventory (ansible_become) says the host is reached as another user."""
    return bool(play_become) or bool(host.data.get("_sudo"))


def _record_journals(ctx: _PlayRun, runs: dict[str, HostRun], current: dict[str, list[_Record]],
                     new: dict[Any, list[str]], result: PlayResult, emit: Listener
                     ) -> dict[str, journal.Batch]:
    """Record the pre-images of what a segment may change on each host (in parallel) before
    it runs; a host whose journal cannot be written is failed and runs nothing more."""
    session = ctx.session
    handlers = ctx.play.all_handlers()

    def notified(run: HostRun, record: _Record) -> list[dict[str, Any]]:
        """The handlers a task notifies, rendered for its host, so a rollback can run them."""
        found = []
        for handler in handlers:
            if not ({handler.name, *handler.listen} & set(record.task.notify)):
                continue
            ref, role = ctx.role_of(handler)
            try:
                variables = _variables(ctx, run, handler, _Scope(ref, role))
                args = handler.module.convert(_without_omitted(
                    handler, render_value(handler.args, variables, handler.where)),
                    handler.location)
            except Exception:  # noqa: BLE001 - not renderable here: the rollback skips it
                continue
            found.append({"name": handler.name, "module": handler.module.name, "args": args})
        return found

    def planned(run: HostRun, host_records: list[_Record]) -> list[journal.Planned]:
        found = []
        for record in host_records:
            if record.final or record.check_mode or not record.metas:
                continue
            resources = [res for call in record.calls
                         for res in journal.resources_of(call.op, call.kwargs, record.task.undo)]
            resources = [_hidden_resource(res, record.no_log) for res in resources]
            if not record.calls:  # a deploy.py's operations: rollback lists them, never silent
                resources = [journal.Resource("unsupported", record.task.name, {
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
                                  _journal_sudo(ctx.play_become, host), ctx.options.keep_runs)
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
        _unprepared_segment(run)
        gone = session.lost(name)
        result.hosts[name] = HostResult(name, [r.result for r in run.records],
                                        error=gone or f"journal: {_one_line(job.value)}",
                                        unreachable=gone is not None)
        session.state.active_hosts.discard(session.hosts[name])
        emit(HostDone(name, result.hosts[name].status))
    return batches


def _hidden_resource(resource: journal.Resource, no_log: bool) -> journal.Resource:
    """A command line names what it ran, and may hold a secret: the journal (and `orc show`)
    keep it masked, as they do every line of a `no_log` task."""
    if resource.kind != "command":
        return resource
    key = masking.MASK if no_log else masking.hide(resource.key)
    return journal.Resource(resource.kind, key or resource.key, resource.extra)


def _seal_journals(play_become: bool | None, batches: dict[str, list[journal.Batch]],
                   session: Session) -> dict[str, str]:
    """Record what the run left of each journaled resource (in parallel), for a later
    rollback's drift check. A host where that fails keeps a journal without one (its rollback
    then restores without that check, as after a crash) and is failed: returned with why."""
    def seal(name: str) -> str | None:
        host = session.hosts[name]
        try:
            for batch in batches[name]:
                journal.seal(host, batch, _journal_sudo(play_become, host))
        except Exception as exc:  # noqa: BLE001 - a value, never a traceback from gevent
            return f"journal: after the run: {_one_line(exc)}"
        return None

    jobs = {name: gevent.spawn(seal, name) for name in batches}
    gevent.joinall(list(jobs.values()))
    return {name: job.value for name, job in jobs.items() if job.value}


def _deploy_task(role: Any) -> Task:
    """The place of a role's deploy.py among its tasks, for variables and errors."""
    return Task(name=f"{role.name}/deploy.py", module=_DEPLOY, args={},
                path=str(role.path / "deploy.py"), line=1, role=role.name)


_DEPLOY = Module("deploy", {}, lambda args, ctx: [])


def _add_deploys(role: Any, host: Any, session: Session, variables: Variables) -> list[_Record]:
    """Run a Python role's `@deploy` functions for one host; each operation they add becomes
    a task of its own in the results (named as pyinfra names it)."""
    records = []
    state = session.state
    for deploy in role.deploys:
        inner = deploy._inner
        kwargs = {"variables": variables} if "variables" in inspect.signature(inner).parameters \
            else {}
        before = len(host.op_hash_order)
        try:
            add_deploy(state, deploy, host=host, **kwargs)
        except OrcError:
            raise
        except Exception as exc:
            line = inspect.getsourcelines(inner)[1]
            raise InputError(f"@deploy {inner.__name__}: {type(exc).__name__}: {exc}",
                             path=str(role.path / "deploy.py"), line=line) from None
        line = inspect.getsourcelines(inner)[1]
        for op_hash in host.op_hash_order[before:]:
            meta = state.get_op_data_for_host(host, op_hash).operation_meta
            names = sorted(state.get_op_meta(op_hash).names)
            task = Task(name=", ".join(names) or inner.deploy_name, module=_DEPLOY, args={},
                        path=str(role.path / "deploy.py"), line=line, role=role.name)
            records.append(_Record(task, TaskResult(task.name, task.where, NOT_RUN,
                                                    role=role.name), [meta]))
    return records


def _complete(ctx: _PlayRun, run: HostRun, records: list[_Record], settled: bool) -> None:
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
            run.facts_set[name] = _registered_value(pending[0].task, pending)
            del run.pending[name]
    if failed:
        if run.rescuing:
            run.block_failed = True
        else:
            run.stopped = True


def _decide(record: _Record, run: HostRun, session: Session, dry_run: bool) -> None:
    """One task's status from its operations: predicted (plan), ok for a settled host (it sat
    the segment out: nothing would have changed), else what ran; and its registered value."""
    record.final = True
    result = record.result
    task = record.task
    if dry_run and not (record.forced and all(m.is_complete() for m in record.metas)):
        changing = record.will_change()
        result.status = CHANGED if changing else OK
        if changing and record.previews:
            result.diff = _diff(run.host, run.name, record.previews)
        record.registered = (registered.KnownAfterApply(task.register or task.name)
                             if changing else {"changed": False, "failed": False})
        return
    if record.check_mode:
        result.status = SKIPPED
        record.registered = registered.skipped()
        return
    if record.settled:
        result.status = OK
        record.registered = {"changed": False, "failed": False}
        return
    if not all(m.is_complete() for m in record.metas):
        result.status = NOT_RUN
        return
    errors = [m for m in record.metas if m.did_error()]
    stdout = [line for m in record.metas for line in (m.stdout_lines or [])]
    stderr = [line for m in record.metas for line in (m.stderr_lines or [])]
    rc = None
    if record.capture_rc:
        stdout, rc = _exit_status(stdout)
    failed = bool(errors) or bool(rc)
    reason = record.run_error or (_error_text(errors[0]) if errors else None)
    if rc and not reason:
        reason = (stderr[-1].strip() if stderr else f"non-zero return code {rc}")
    changed = record.counts_as_change and any(m.is_complete() and m.did_change()
                                              for m in record.metas)
    value = registered.of_output(changed, failed, stdout, stderr, rc=rc,
                                 msg=reason if failed else None)
    if task.until is not None:
        value["attempts"] = getattr(record.metas[0], "_retry_attempts", 0) + 1
        with _stage("until", task):
            holds = _until_holds(record, record.variables, value)
        if not holds and not failed:
            failed = True
            reason = f"the until condition still fails after {value['attempts']} attempts"
            value["failed"] = True
    if record.changed_after or task.failed_when is not None:
        scope = record.variables.child(**({task.register: value} if task.register else {}))
        if record.changed_after:
            with _stage("changed_when", task):
                changed = evaluate(task.changed_when, scope, task.where)
            value["changed"] = changed
        if task.failed_when is not None:
            with _stage("failed_when", task):
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


def _exit_status(stdout: list[str]) -> tuple[list[str], int | None]:
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


def _collect(name: str, records: list[_Record], session: Session, stopped: str | None = None
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


def _error_text(meta: Any) -> str:
    lines = [line for line in (meta.stderr_lines or meta.stdout_lines or []) if line.strip()]
    return lines[-1].strip() if lines else "operation failed"


def _diff(host: Any, name: str, previews: list[FilePreview]) -> str:
    chunks = []
    for preview in previews:
        before = _read_remote(host, preview.path)
        after = preview.after(before)
        if before == after:
            continue
        chunks.extend(difflib.unified_diff(
            (before or "").splitlines(True), (after or "").splitlines(True),
            fromfile=f"{name}:{preview.path}" if before is not None else "/dev/null",
            tofile=f"{name}:{preview.path}" if after is not None else "/dev/null",
        ))
    text = "".join(chunk if chunk.endswith("\n") else chunk + "\n" for chunk in chunks)
    return text or None  # type: ignore[return-value]


def _read_remote(host: Any, path: str) -> str | None:
    buffer = io.BytesIO()
    try:
        if host.get_file(path, buffer) is False:
            return None
    except Exception:  # absent or unreadable: the plan shows it as created
        return None
    return buffer.getvalue().decode("utf-8", errors="replace")
