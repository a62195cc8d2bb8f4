"""Apply (or plan) a play on a set of hosts: tasks become pyinfra operations, per host.

Per host, each task's arguments are rendered with that host's variables, its `when` evaluated,
its loop expanded, and the module turns it into pyinfra operation calls added with
`add_op(..., host=host)`. Handlers are added last, each guarded by pyinfra's `_if` on the change
state of the tasks that notify it, so a handler runs once, only where something changed.

A plan stops after adding operations: pyinfra predicts from facts what would change, and file
previews turn that into unified diffs. An apply calls `run_ops`, and reads the outcome from the
same operation metadata.

The State is built with pyinfra's change detection on, because the journal needs each task's
prediction before anything runs. That reads every operation's facts when it is added, and
`run_ops` reads them again (pyinfra keeps no fact cache: facts go stale as operations change the
host; its CLI avoids the second read only with `-y`, which skips predictions). A host where no
operation is predicted to run any command is therefore settled: its predictions were all made
from its true state, nothing would change it between the two reads, so running its operations
would read the same facts again and do nothing. Settled hosts sit out `run_ops`, and their tasks
are reported ok from the predictions.

Errors are failures. A task that cannot be prepared on a host (a template raising, `{{ 1 / 0 }}`;
an argument of the wrong type; a module or pyinfra refusing the operation) fails that host with
the task's file:line and one line of why, and the other hosts go on, as in Ansible; since a host
is prepared whole before anything runs, the failed host runs nothing at all (Ansible would have
run its earlier tasks). The same input error on every host is said once, before any host is
touched. An exception while pyinfra runs an operation fails that operation on that host only,
and a journal that cannot be written (or sealed) fails its host.
"""

from __future__ import annotations

import difflib
import inspect
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import gevent
from pyinfra.api.command import FunctionCommand
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.deploy import add_deploy
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.operations import python
from pyinfra.context import ctx_state

from orchestrator import journal
from orchestrator.errors import HostError, InputError, OrcError
from orchestrator.faults import fault_point
from orchestrator.factcache import facts_read_once
from orchestrator.inventory import Inventory
from orchestrator.loops import Loop
from orchestrator.modules.base import FilePreview, HostContext, Module, OpCall
from orchestrator.playbook import Play, Playbook
from orchestrator.results import (
    CHANGED, FAILED, NOT_RUN, OK, SKIPPED, HostResult, PlayResult, RunResult, TaskResult,
)
from orchestrator.secrets import masking
from orchestrator.secrets_vars import VarsFiles, load_vars_files
from orchestrator.session import Session, open_session
from orchestrator.tasks import Task
from orchestrator.templating import Variables, evaluate, render_value
from orchestrator.variables import LazyFacts, play_variables, task_variables

Event = Callable[[str, dict[str, Any]], None]


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
    args: dict[str, Any] = field(default_factory=dict)  # rendered, for the journal's handlers
    check_mode: bool = False  # the task's boolean keywords, rendered for this host
    ignore_errors: bool = False
    run_error: str | None = None  # an exception raised while pyinfra ran its operations

    def changed(self) -> bool:
        return self.counts_as_change and any(m.is_complete() and m.did_change()
                                             for m in self.metas)

    def will_change(self) -> bool:
        if self.notifiers is not None and not any(r.will_change() for r in self.notifiers):
            return False
        return self.counts_as_change and any(m.will_change for m in self.metas)


@dataclass
class _Prepared:
    """A host's records as far as preparing them went, and what stopped it there."""

    records: list[_Record] = field(default_factory=list)
    error: OrcError | None = None


def _unprepared(name: str, prepared: _Prepared) -> HostResult:
    """The result of a host whose preparation failed: the failing task (or the host, when no
    task was being prepared) carries the reason, and nothing ran."""
    result = HostResult(name)
    for record in prepared.records:
        if record.result.status not in (FAILED, SKIPPED):
            record.result.status = NOT_RUN
        record.result.error = masking.hide(record.result.error)
        result.tasks.append(record.result)
    if not any(t.status == FAILED for t in result.tasks):
        result.error = masking.hide(str(prepared.error))
    return result


def tags_selected(tags: frozenset[str], options: RunOptions) -> bool:
    """Ansible's --tags/--skip-tags rule; `always` runs unless skipped by name."""
    if options.tags and not (tags & options.tags or "always" in tags):
        return False
    return not (tags & options.skip_tags)


def selected(task: Task, options: RunOptions, extra_tags: frozenset[str] = frozenset()) -> bool:
    return tags_selected(task.tags | extra_tags, options)


def run_playbook(playbook: Playbook, inventory: Inventory, options: RunOptions,
                 on_event: Event | None = None) -> RunResult:
    run = RunResult(str(playbook.path), options.dry_run)
    failed: set[str] = set()
    for play in playbook.plays:
        names = [n for n in inventory.select(play.hosts, options.limit) if n not in failed]
        result = run_play(play, inventory, names, options, on_event)
        failed |= set(result.failed_hosts)  # like Ansible, a failed host sits out later plays
        run.plays.append(result)
    return run


def run_play(play: Play, inventory: Inventory, names: list[str], options: RunOptions,
             on_event: Event | None = None) -> PlayResult:
    emit = on_event or (lambda kind, data: None)
    result = PlayResult(play.name)
    if not names:
        return result
    emit("play", {"name": play.name, "hosts": names})
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
            emit("host", {"host": name, "status": "unreachable",
                          "error": session.unreachable[name]})
    _check_secret_versions(play_become, vars_files, session, options, result)
    records: dict[str, list[_Record]] = {}
    # One greenlet per host: facts are gathered concurrently, as pyinfra prepares hosts. The
    # state context is held around all of them: pyinfra's is process-wide, and a greenlet
    # leaving add_op would otherwise unset it under the others.
    def prepare(name: str, host: Any) -> _Prepared:
        prepared = _Prepared()
        try:
            with facts_read_once(host):  # nothing runs while operations are added
                _add_host(play, inventory, name, host, session, base, options, play_become,
                          prepared)
        except Exception as exc:  # a value, so gevent never prints it as a traceback
            prepared.error = exc if isinstance(exc, OrcError) else HostError(_one_line(exc))
        return prepared

    with ctx_state.use(session.state):
        greenlets = {name: gevent.spawn(prepare, name, host)
                     for name, host in session.hosts.items()}
        gevent.joinall(list(greenlets.values()))
    outcomes = {name: greenlet.value for name, greenlet in greenlets.items()}
    errors = {str(p.error) for p in outcomes.values() if p.error is not None}
    if len(errors) == 1 and all(isinstance(p.error, InputError) for p in outcomes.values()):
        # the same error on every host: the input is wrong whatever the host (an undefined
        # variable, a bad argument); said once, and nothing has run anywhere
        error = next(iter(outcomes.values())).error
        assert error is not None
        raise type(error)(masking.hide(error.message), path=error.path, line=error.line)
    for name, prepared in outcomes.items():
        if prepared.error is None:
            records[name] = prepared.records
            progress.know(name, prepared.records)
            continue
        # a host that cannot be prepared whole runs nothing: it fails, the others go on
        result.hosts[name] = _unprepared(name, prepared)
        gone = session.lost(name)
        if gone:  # not the task's fault: the host went away while it was prepared
            result.hosts[name].unreachable, result.hosts[name].error = True, gone
            for task in result.hosts[name].tasks:
                task.error = gone if task.status == FAILED else task.error
        session.state.active_hosts.discard(session.hosts[name])
        emit("host", {"host": name, "status": result.hosts[name].status,
                      "error": result.hosts[name].reason})
    batches: dict[str, journal.Batch] = {}
    if options.run_id and not options.dry_run:
        batches = _record_journals(play, play_become, records, session, options.run_id,
                                   options.keep_runs, result, emit)
        journal.crash_point()
    settled: set[str] = set()
    if not options.dry_run:
        settled = _settle(records, session)
    stopped: str | None = None
    if not options.dry_run and session.state.active_hosts:
        try:
            run_ops(session.state)
        except PyinfraError:
            pass  # per-host failures are read from each operation's metadata below
        except Exception as exc:  # noqa: BLE001 - the run stopped: its hosts fail below
            stopped = _one_line(exc)
        progress.flush()
    sealing: dict[str, str] = {}
    if batches:
        sealing = _seal_journals(play_become, batches, session)
    for name, host_records in records.items():
        result.hosts[name] = _collect(name, host_records, session, options.dry_run,
                                      ran=name not in settled, stopped=stopped)
        if name in sealing and not result.hosts[name].failed:
            result.hosts[name].error = sealing[name]
        for record in host_records:
            if record.no_log:
                _hide_no_log(record.result)
        _hide_secrets(result.hosts[name])
        emit("host", {"host": name, "status": result.hosts[name].status,
                      "error": result.hosts[name].reason})
    for host in result.hosts.values():
        _hide_secrets(host)
    return result


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

    def __init__(self, emit: Event):
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
        self.emit("op", {"host": host, "task": record.task.name if record else "", "ok": ok})
        if not ok and record is not None and not record.ignore_errors:
            # pyinfra completes the operation's output right after this callback returns
            self.reporters.append(gevent.spawn(self._failed, host, op_hash, record.task))

    def _failed(self, host: str, op_hash: str, task: Task) -> None:
        meta = self.session.state.get_op_data_for_host(self.session.hosts[host],
                                                       op_hash).operation_meta
        reason = self.session.lost(host) or (_error_text(meta) if meta.is_complete()
                                             else "operation failed")
        self.emit("task-failed", {"host": host, "task": task.name, "where": task.where,
                                  "error": masking.hide(reason)})

    def flush(self) -> None:
        gevent.joinall(self.reporters)


def _would_run(records: list[_Record]) -> bool:
    """Whether running a host's operations could execute anything: some operation that is not
    skipped, held back by `check_mode`, or a handler (which runs only after a notifying task
    changed, and none will) is predicted to run commands. `changed_when` does not count here:
    a command whose change is ignored still has to run."""
    return any(meta.will_change for record in records
               if record.result.status != SKIPPED and record.notifiers is None
               and not record.check_mode
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


def _add_host(play: Play, inventory: Inventory, name: str, host: Any, session: Session,
              base: dict[str, Any], options: RunOptions, play_become: bool | None,
              prepared: _Prepared) -> None:
    """Add a host's operations, task by task, to `prepared.records`; the first task that
    cannot be prepared raises (an OrcError naming it) and is left there as failed."""
    facts = LazyFacts(host)
    records = prepared.records
    for ref, role in play.roles:
        for task in role.tasks:
            if selected(task, options, ref.tags):
                variables = task_variables(base, inventory, name, facts, task,
                                           options.extra_vars, role=role, ref=ref)
                _add_task(task, host, session, variables, play, play_become, ref.when, records)
        if role.deploys and tags_selected(ref.tags, options):
            # deploy.py has no tags or `when` of its own: the role's, from the play, decide
            variables = task_variables(base, inventory, name, facts, _deploy_task(role),
                                       options.extra_vars, role=role, ref=ref)
            if ref.when is None or evaluate(ref.when, variables, str(role.path)):
                records += _add_deploys(role, host, session, variables)
    for task in play.tasks:
        if selected(task, options):
            variables = task_variables(base, inventory, name, facts, task, options.extra_vars)
            _add_task(task, host, session, variables, play, play_become, None, records)
    by_name: dict[str, list[_Record]] = {}
    for record in records:
        for notified in record.task.notify:
            by_name.setdefault(notified, []).append(record)
    known = {h.name for h in play.all_handlers()} | {k for h in play.all_handlers()
                                                      for k in h.listen}
    for record in records:
        for notified in record.task.notify:
            if notified not in known:
                raise InputError(f"notify {notified!r}: no handler of that name",
                                 **record.task.location)
    for handler in play.all_handlers():
        notifiers = [r for key in (handler.name, *handler.listen) for r in by_name.get(key, [])]
        if not notifiers:
            continue
        variables = task_variables(base, inventory, name, facts, handler, options.extra_vars)
        _add_task(handler, host, session, variables, play, play_become, None, records,
                  notifiers)


def _add_task(task: Task, host: Any, session: Session, variables: Variables, play: Play,
              play_become: bool | None, role_when: Any, records: list[_Record],
              notifiers: list[_Record] | None = None) -> None:
    """Add one task's operations on one host to `records`. Whatever goes wrong on the way
    (rendering, a module's build, pyinfra's own checks of the operation) fails this task on
    this host with one line naming it, as an OrcError."""
    guard = (lambda: any(r.changed() for r in notifiers)) if notifiers is not None else None

    def new_record(item: Any) -> _Record:
        result = TaskResult(task.name, task.where, NOT_RUN, role=task.role,
                            handler=guard is not None, item=item)
        records.append(_Record(task, result, notifiers=notifiers))
        return records[-1]

    try:
        items, pause = _loop_items(task, variables)
    except Exception as exc:
        _fail(new_record(None), exc, task, "loop")
    if not items:  # an empty loop: the task is skipped, as Ansible reports it
        new_record(None).result.status = SKIPPED
    for index, item in enumerate(items):
        loop = task.loop
        scoped = variables.child(**loop.scope(index, item, items)) if loop else variables
        try:
            record = new_record(loop.label(scoped) if loop else None)
        except Exception as exc:
            _fail(new_record(item), exc, task, "loop_control: label")
        if pause and index:  # loop_control.pause: between two items, while the task runs
            add_op(session.state, python.call, Loop.wait, pause, host=host,
                   name=f"{task.name} (pause {pause:g}s)")
        try:
            _prepare(record, scoped, host, session, play, play_become, role_when, guard)
        except Exception as exc:
            _fail(record, exc, task, task.module.name)


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
    record.result.status = FAILED
    record.result.error = error.message if ours else str(error)
    raise error from None


def _prepare(record: _Record, scoped: Variables, host: Any, session: Session, play: Play,
             play_become: bool | None, role_when: Any, guard: Callable[[], bool] | None
             ) -> None:
    """Render one task (one loop item) for one host and add its pyinfra operations."""
    task, result = record.task, record.result
    conditions = [c for c in (role_when, task.when) if c is not None]
    with _stage("when", task):
        holds = all(evaluate(c, scoped, task.where) for c in conditions)
    if not holds:
        result.status = SKIPPED
        return
    if task.changed_when is not None:
        with _stage("changed_when", task):
            record.counts_as_change = evaluate(task.changed_when, scoped, task.where)
    with _stage("template", task):
        own = task.flag("no_log", scoped)
        record.no_log = bool(own if own is not None else play.flag("no_log", scoped))
        record.check_mode = bool(task.flag("check_mode", scoped))
        record.ignore_errors = bool(task.flag("ignore_errors", scoped))
        task_become = task.flag("become", scoped)
        rendered = render_value(task.args, scoped, task.where)
    args = task.module.convert(rendered, task.location)
    record.args = args
    ctx = HostContext(host, scoped, play.search_dirs(task), task.location)
    with _stage(task.module.name, task):
        calls = task.module.build(args, ctx)
    become = task_become if task_become is not None else play_become
    global_args: dict[str, Any] = {"name": task.name}
    if become:
        global_args["_sudo"] = True
        user = task.become_user or play.become_user
        if user:
            global_args["_sudo_user"] = user
    if record.ignore_errors:
        global_args["_ignore_errors"] = True
    checks = [g for g in (guard, (lambda: False) if record.check_mode else None) if g]
    if checks:
        global_args["_if"] = checks
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


def _record_journals(play: Play, play_become: bool | None,
                     records: dict[str, list[_Record]], session: Session,
                     run_id: str, keep: int, result: PlayResult, emit: Event
                     ) -> dict[str, journal.Batch]:
    """Record every host's pre-images (in parallel) before anything runs; a host whose journal
    cannot be written is failed and runs nothing."""
    def planned(host_records: list[_Record]) -> list[journal.Planned]:
        handlers = [r for r in host_records if r.notifiers is not None]
        found = []
        for record in host_records:
            if record.result.status == SKIPPED or record.check_mode or not record.metas:
                continue
            notify = [{"name": h.task.name, "module": h.task.module.name, "args": h.args}
                      for h in handlers if any(r is record for r in h.notifiers or [])]
            resources = [res for call in record.calls
                         for res in journal.resources_of(call.op, call.kwargs, record.task.undo)]
            resources = [_hidden_resource(res, record.no_log) for res in resources]
            if not record.calls:  # a deploy.py's operations: rollback lists them, never silent
                resources = [journal.Resource("unsupported", record.task.name, {
                    "why": "operations of a role's deploy.py are not recorded"})]
            found.append(journal.Planned(record.task.name, record.task.where,
                                         record.will_change(), resources, notify))
        return found

    def record(name: str, host_records: list[_Record]) -> Any:
        host = session.hosts[name]
        try:
            return journal.record(host, run_id, play.name, planned(host_records),
                                  _journal_sudo(play_become, host), keep)
        except Exception as exc:  # a value, so gevent never prints it as a traceback
            return exc

    jobs = {name: gevent.spawn(record, name, host_records)
            for name, host_records in records.items()
            if session.hosts[name] in session.state.active_hosts}
    gevent.joinall(list(jobs.values()))
    batches = {}
    for name, job in jobs.items():
        if not isinstance(job.value, Exception):
            if job.value is not None:
                batches[name] = job.value
                emit("journal", {"host": name, "batch": job.value})
            continue
        # the host runs nothing without its journal: a failure, whose tasks did not run
        tasks = [r.result for r in records.pop(name)]
        for task in tasks:
            task.status = SKIPPED if task.status == SKIPPED else NOT_RUN
        gone = session.lost(name)
        result.hosts[name] = HostResult(name, tasks,
                                        error=gone or f"journal: {_one_line(job.value)}",
                                        unreachable=gone is not None)
        session.state.active_hosts.discard(session.hosts[name])
        emit("host", {"host": name, "status": result.hosts[name].status})
    return batches


def _hidden_resource(resource: journal.Resource, no_log: bool) -> journal.Resource:
    """A command line names what it ran, and may hold a secret: the journal (and `orc show`)
    keep it masked, as they do every line of a `no_log` task."""
    if resource.kind != "command":
        return resource
    key = masking.MASK if no_log else masking.hide(resource.key)
    return journal.Resource(resource.kind, key or resource.key, resource.extra)


def _seal_journals(play_become: bool | None, batches: dict[str, journal.Batch],
                   session: Session) -> dict[str, str]:
    """Record what the run left of each journaled resource (in parallel), for a later
    rollback's drift check. A host where that fails keeps a journal without one (its rollback
    then restores without that check, as after a crash) and is failed: returned with why."""
    def seal(name: str) -> str | None:
        host = session.hosts[name]
        try:
            journal.seal(host, batches[name], _journal_sudo(play_become, host))
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


def _collect(name: str, records: list[_Record], session: Session, dry_run: bool,
             ran: bool = True, stopped: str | None = None) -> HostResult:
    """A host's task results: predictions for a plan; for an apply, what ran, or, on a host
    that was settled (`ran` false: nothing predicted to run), ok for every task that would
    have run, as running it would have found. A task that did not run when it should have
    fails the host (`stopped`: why pyinfra's run ended early)."""
    host = session.hosts[name]
    result = HostResult(name)
    for record in records:
        task_result = record.result
        result.tasks.append(task_result)
        if task_result.status == SKIPPED or not record.metas:
            continue
        if dry_run:
            changing = record.will_change()
            task_result.status = CHANGED if changing else OK
            if changing and record.previews:
                task_result.diff = _diff(host, name, record.previews)
            continue
        if record.check_mode:
            task_result.status = SKIPPED
            continue
        if record.notifiers is not None and not any(r.changed() for r in record.notifiers):
            task_result.status = SKIPPED  # a handler nothing notified
            continue
        if not ran:
            task_result.status = OK
            continue
        if not all(m.is_complete() for m in record.metas):
            task_result.status = SKIPPED if task_result.handler else NOT_RUN
            continue
        errors = [m for m in record.metas if m.did_error()]
        reason = record.run_error or (_error_text(errors[0]) if errors else None)
        if errors and not record.ignore_errors:
            task_result.status = FAILED
            task_result.error = reason
        else:
            task_result.status = CHANGED if record.changed() else OK
            if errors:
                task_result.error = f"ignored: {reason}"
    if any(r.status == NOT_RUN for r in result.tasks) and not result.failed:
        result.error = "stopped before all tasks ran" + (f": {stopped}" if stopped else "")
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
