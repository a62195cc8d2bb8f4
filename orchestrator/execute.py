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
"""

from __future__ import annotations

import difflib
import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.deploy import add_deploy
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.context import ctx_state

from orchestrator import journal
from orchestrator.errors import InputError, OrcError
from orchestrator.factcache import facts_read_once
from orchestrator.inventory import Inventory
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

    def changed(self) -> bool:
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
    # an operation ran (for crash tests, see journal.crash_point)
    session = open_session(inventory, names, on_op=lambda host, op, ok: journal.crash_point(1))
    for name in names:
        if name in session.unreachable:
            result.hosts[name] = HostResult(name, error=session.unreachable[name],
                                            unreachable=True)
            emit("host", {"host": name, "status": "unreachable"})
    _check_secret_versions(play, vars_files, session, options, result)
    records: dict[str, list[_Record]] = {}
    # One greenlet per host: facts are gathered concurrently, as pyinfra prepares hosts. The
    # state context is held around all of them: pyinfra's is process-wide, and a greenlet
    # leaving add_op would otherwise unset it under the others.
    def prepare(name: str, host: Any) -> list[_Record] | Exception:
        try:
            with facts_read_once(host):  # nothing runs while operations are added
                return _add_host(play, inventory, name, host, session, base, options)
        except Exception as exc:  # a value, so gevent never prints it as a traceback
            return exc

    with ctx_state.use(session.state):
        greenlets = {name: gevent.spawn(prepare, name, host)
                     for name, host in session.hosts.items()}
        gevent.joinall(list(greenlets.values()))
    for name, greenlet in greenlets.items():
        outcome = greenlet.value
        if isinstance(outcome, OrcError):
            raise outcome  # bad input: nothing has run yet on any host
        if isinstance(outcome, Exception):  # the host went away while facts were gathered
            result.hosts[name] = HostResult(name, error=f"{type(outcome).__name__}: {outcome}")
            session.state.active_hosts.discard(session.hosts[name])
        else:
            records[name] = outcome
    batches: dict[str, journal.Batch] = {}
    if options.run_id and not options.dry_run:
        batches = _record_journals(play, records, session, options.run_id, options.keep_runs,
                                   result, emit)
        journal.crash_point()
    settled: set[str] = set()
    if not options.dry_run:
        settled = _settle(records, session)
    if not options.dry_run and session.state.active_hosts:
        try:
            run_ops(session.state)
        except PyinfraError:
            pass  # per-host failures are read from each operation's metadata below
    if batches:
        _seal_journals(play, batches, session)
    for name, host_records in records.items():
        result.hosts[name] = _collect(name, host_records, session, options.dry_run,
                                      ran=name not in settled)
        for record in host_records:
            if record.no_log:
                _hide_no_log(record.result)
        emit("host", {"host": name, "status": result.hosts[name].status})
    _hide_secrets(result)
    return result


def _hide_no_log(task: TaskResult) -> None:
    """Ansible's `no_log: true`: the task's result (error, diff, loop item) is not shown."""
    task.error = task.error and masking.NO_LOG
    task.diff = None
    task.item = None if task.item is None else masking.MASK


def _hide_secrets(result: PlayResult) -> None:
    """Secret values, and every value rendered from one, never reach a report, the run index
    or the terminal: masked whole in each field of each result (`masking.hide`)."""
    for host in result.hosts.values():
        host.error = masking.hide(host.error)
        for task in host.tasks:
            task.name = masking.hide(task.name) or task.name
            task.diff = masking.hide(task.diff)
            task.error = masking.hide(task.error)
            task.item = masking.hide_value(task.item)


def _would_run(records: list[_Record]) -> bool:
    """Whether running a host's operations could execute anything: some operation that is not
    skipped, held back by `check_mode`, or a handler (which runs only after a notifying task
    changed, and none will) is predicted to run commands. `changed_when` does not count here:
    a command whose change is ignored still has to run."""
    return any(meta.will_change for record in records
               if record.result.status != SKIPPED and record.notifiers is None
               and not record.task.check_mode
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


def _check_secret_versions(play: Play, vars_files: VarsFiles, session: Session,
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
            return replay.read_host(hosts[name], _journal_sudo(play, hosts[name]))
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
            replay.write_host(hosts[name], records[name], _journal_sudo(play, hosts[name]))
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
              base: dict[str, Any], options: RunOptions) -> list[_Record]:
    facts = LazyFacts(host)
    records: list[_Record] = []
    for ref, role in play.roles:
        for task in role.tasks:
            if selected(task, options, ref.tags):
                variables = task_variables(base, inventory, name, facts, task,
                                           options.extra_vars, role=role, ref=ref)
                records += _add_task(task, host, session, variables, play, ref.when)
        if role.deploys and tags_selected(ref.tags, options):
            # deploy.py has no tags or `when` of its own: the role's, from the play, decide
            variables = task_variables(base, inventory, name, facts, _deploy_task(role),
                                       options.extra_vars, role=role, ref=ref)
            if ref.when is None or evaluate(ref.when, variables, str(role.path)):
                records += _add_deploys(role, host, session, variables)
    for task in play.tasks:
        if selected(task, options):
            variables = task_variables(base, inventory, name, facts, task, options.extra_vars)
            records += _add_task(task, host, session, variables, play, None)
    by_name: dict[str, list[_Record]] = {}
    for record in records:
        for notified in record.task.notify:
            by_name.setdefault(notified, []).append(record)
    for handler in play.all_handlers():
        notifiers = [r for key in (handler.name, *handler.listen) for r in by_name.get(key, [])]
        if not notifiers:
            continue
        variables = task_variables(base, inventory, name, facts, handler, options.extra_vars)
        records += _add_task(handler, host, session, variables, play, None, notifiers)
    known = {h.name for h in play.all_handlers()} | {k for h in play.all_handlers()
                                                      for k in h.listen}
    for record in records:
        for notified in record.task.notify:
            if notified not in known:
                raise InputError(f"notify {notified!r}: no handler of that name",
                                 **record.task.location)
    return records


def _add_task(task: Task, host: Any, session: Session, variables: Variables, play: Play,
              role_when: Any, notifiers: list[_Record] | None = None) -> list[_Record]:
    guard = (lambda: any(r.changed() for r in notifiers)) if notifiers is not None else None
    if task.loop is not None:
        items = render_value(task.loop, variables, task.where)
        if not isinstance(items, list):
            raise InputError(f"loop must be a list, got {type(items).__name__}", **task.location)
    else:
        items = [None]
    records = []
    for item in items:
        scoped = variables.child(**{task.loop_var: item}) if task.loop is not None else variables
        result = TaskResult(task.name, task.where, NOT_RUN, role=task.role,
                            handler=guard is not None, item=item)
        record = _Record(task, result, notifiers=notifiers)
        records.append(record)
        conditions = [c for c in (role_when, task.when) if c is not None]
        if conditions and not all(evaluate(c, scoped, task.where) for c in conditions):
            result.status = SKIPPED
            continue
        if task.changed_when is not None:
            record.counts_as_change = evaluate(task.changed_when, scoped, task.where)
        no_log = task.no_log if task.no_log is not None else play.no_log
        record.no_log = no_log is not None and evaluate(no_log, scoped, task.where)
        args = render_value(task.args, scoped, task.where)
        record.args = args
        ctx = HostContext(host, scoped, play.search_dirs(task), task.location)
        try:
            calls = task.module.build(args, ctx)
        except (ValueError, TypeError) as err:
            raise InputError(f"{task.module.name}: {err}", **task.location) from None
        become = task.become if task.become is not None else play.become
        global_args: dict[str, Any] = {"name": task.name}
        if become:
            global_args["_sudo"] = True
            user = task.become_user or play.become_user
            if user:
                global_args["_sudo_user"] = user
        if task.ignore_errors:
            global_args["_ignore_errors"] = True
        checks = [g for g in (guard, (lambda: False) if task.check_mode else None) if g]
        if checks:
            global_args["_if"] = checks
        for call in calls:
            try:
                inspect.signature(call.op._inner).bind(**call.kwargs)
            except TypeError as err:
                raise InputError(f"{task.module.name}: {err}", **task.location) from None
            metas = add_op(session.state, call.op, host=host, **global_args, **call.kwargs)
            record.metas.append(metas[host])
            record.calls.append(call)
            if call.preview:
                record.previews.append(call.preview)
        if not calls:
            result.status = OK  # nothing to do (e.g. `creates:` already there)
    return records



def _journal_sudo(play: Play, host: Any) -> bool:
    """The journal lives under /var/lib/orc: root's, through sudo when the play or the
    inventory (ansible_become) says the host is reached as another user."""
    return bool(play.become) or bool(host.data.get("_sudo"))


def _record_journals(play: Play, records: dict[str, list[_Record]], session: Session,
                     run_id: str, keep: int, result: PlayResult, emit: Event
                     ) -> dict[str, journal.Batch]:
    """Record every host's pre-images (in parallel) before anything runs; a host whose journal
    cannot be written is failed and runs nothing."""
    def planned(host_records: list[_Record]) -> list[journal.Planned]:
        handlers = [r for r in host_records if r.notifiers is not None]
        found = []
        for record in host_records:
            if record.result.status == SKIPPED or record.task.check_mode or not record.metas:
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
                                  _journal_sudo(play, host), keep)
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
        result.hosts[name] = HostResult(name, error=f"journal: {job.value}")
        session.state.active_hosts.discard(session.hosts[name])
        records.pop(name)
    return batches


def _hidden_resource(resource: journal.Resource, no_log: bool) -> journal.Resource:
    """A command line names what it ran, and may hold a secret: the journal (and `orc show`)
    keep it masked, as they do every line of a `no_log` task."""
    if resource.kind != "command":
        return resource
    key = masking.MASK if no_log else masking.hide(resource.key)
    return journal.Resource(resource.kind, key or resource.key, resource.extra)


def _seal_journals(play: Play, batches: dict[str, journal.Batch], session: Session) -> None:
    """Record what the run left of each journaled resource (in parallel), for a later
    rollback's drift check. A host that cannot be read now keeps a journal without one, and
    its rollback then restores without that check, as after a crash."""
    def seal(name: str) -> None:
        host = session.hosts[name]
        try:
            journal.seal(host, batches[name], _journal_sudo(play, host))
        except Exception:  # noqa: BLE001 - the host went away during the run
            pass

    gevent.joinall([gevent.spawn(seal, name) for name in batches])


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
             ran: bool = True) -> HostResult:
    """A host's task results: predictions for a plan; for an apply, what ran, or, on a host
    that was settled (`ran` false: nothing predicted to run), ok for every task that would
    have run, as running it would have found."""
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
        if record.task.check_mode:
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
        if errors and not record.task.ignore_errors:
            task_result.status = FAILED
            task_result.error = _error_text(errors[0])
        else:
            task_result.status = CHANGED if record.changed() else OK
            if errors:
                task_result.error = f"ignored: {_error_text(errors[0])}"
    if any(r.status == NOT_RUN for r in result.tasks) and not result.failed:
        result.error = "stopped before all tasks ran"
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
