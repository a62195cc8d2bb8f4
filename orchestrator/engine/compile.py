"""A task on a host turned into pyinfra operations (or a controller action), ready to run.

Its arguments are rendered with the host's variables, its `when` decided, its loop expanded,
`omit` dropped and its module asked for operations (`add_op(..., host=host)`), with Ansible's
keywords: become, environment, check_mode, ignore_errors, failed_when/changed_when (when they
can be decided before running), until/retries/delay. Controller modules (set_fact, assert...)
run here in place of operations (engine/actions.py)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyinfra.api.command import FunctionCommand
from pyinfra.api.deploy import add_deploy
from pyinfra.api.operation import add_op
from pyinfra.operations import python

from orchestrator.engine import registered
from orchestrator.engine.actions import ACTIONS, ActionContext
from orchestrator.engine.context import PlayRun
from orchestrator.engine.failures import fail_task, one_line, stage
from orchestrator.engine.hostrun import HostRun
from orchestrator.engine.outcome import exit_status, failed_operation, registered_value, until_holds
from orchestrator.engine.reads import names_read
from orchestrator.engine.record import TaskRecord
from orchestrator.engine.registered import NotKnownYet
from orchestrator.engine.results import (
    FAILED,
    NOT_RUN,
    OK,
    SKIPPED,
    UNKNOWN,
    TaskResult,
)
from orchestrator.engine.variables import OMIT
from orchestrator.errors import InputError, OrcError
from orchestrator.events import Message
from orchestrator.faults import fault_point
from orchestrator.load.includevars import search_path
from orchestrator.load.loops import Loop
from orchestrator.load.playbook import Play
from orchestrator.load.tasks import Task
from orchestrator.modules.base import (
    REQUIRED,
    Decided,
    HostContext,
    Module,
    OpCall,
    sudo_arguments,
)
from orchestrator.secrets import masking
from orchestrator.templating.render import Variables, evaluate, render_value
from orchestrator.transport.session import Session


def when_holds(task: Task, inherited: Any, variables: Variables) -> bool:
    """Whether the task's `when` and the one it inherits (its role entry's, an include's) both
    hold on this host."""
    conditions = [c for c in (inherited, task.when) if c is not None]
    with stage("when", task):
        return all(evaluate(c, variables, task.where) for c in conditions)


def action_record(task: Task, run: HostRun, item: Any = None) -> TaskRecord:
    """The record of a task the controller runs (include, meta, set_fact...): its status is
    decided when it is reached, never by an operation."""
    record = TaskRecord(task, TaskResult(task.name, task.where, NOT_RUN, role=task.role, item=item),
                     action=True, final=True)
    run.records.append(record)
    return record


def add_task(task: Task, run: HostRun, ctx: PlayRun, variables: Variables, role_when: Any,
              notifiers: list[TaskRecord] | None = None,
              refresh: Callable[[], Variables] | None = None) -> None:
    """Add one task's operations on one host (or run it, for a controller module). Whatever
    goes wrong on the way (rendering, a module's build, pyinfra's own checks of the operation)
    fails this task on this host with one line naming it, as an OrcError. `refresh` gives the
    task's variables again: a looped set_fact or include_vars sees what its earlier items set,
    as in Ansible (`set_fact: {all: "{{ all + [item] }}"}` gathers every item)."""
    start = len(run.records)

    def new_record(item: Any) -> TaskRecord:
        result = TaskResult(task.name, task.where, NOT_RUN, role=task.role,
                            handler=notifiers is not None, item=item)
        record = TaskRecord(task, result, notifiers=notifiers, action=task.module.action,
                         final=task.module.action)
        run.records.append(record)
        return record

    try:
        items, pause = loop_items(task, variables)
    except NotKnownYet as exc:
        _unknown(new_record(None), exc)
        _register(task, run, run.records[start:], ctx)
        return
    except Exception as exc:
        fail_task(new_record(None), exc, task, "loop")
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
            fail_task(new_record(item), exc, task, "loop_control: label")
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
            fail_task(record, exc, task, task.module.name)
    _register(task, run, run.records[start:], ctx)


def _unknown(record: TaskRecord, exc: NotKnownYet) -> None:
    """A plan's task that reads what only an apply knows: shown as such, never guessed."""
    record.result.status = UNKNOWN
    record.result.error = exc.message
    record.final = True
    record.metas = []


def _register(task: Task, run: HostRun, records: list[TaskRecord], ctx: PlayRun) -> None:
    """`register:`: known now for tasks decided here (skipped, controller modules), or once
    the segment ran (`pending`); a task whose failure depends on its result ends the segment."""
    if task.failed_when is not None or task.until is not None or any(
            r.capture_rc for r in records):
        if any(r.metas for r in records):
            run.flush_after = True
    if task.register is None:
        return
    if all(r.final for r in records):
        run.facts_set[task.register] = registered_value(task, records)
    else:
        run.pending[task.register] = records
        run.facts_set.pop(task.register, None)


def _act(record: TaskRecord, scoped: Variables, run: HostRun, ctx: PlayRun, role_when: Any
         ) -> None:
    """Run a controller module in the task's place (see engine/actions.py)."""
    task, result = record.task, record.result
    if not when_holds(task, role_when, scoped):
        result.status = SKIPPED
        record.registered = registered.skipped()
        return
    with stage("template", task):
        own = task.flag("no_log", scoped)
        record.no_log = bool(own if own is not None else ctx.play.flag("no_log", scoped))
        record.ignore_errors = bool(task.flag("ignore_errors", scoped))
        # the task's check_mode: true skips what does not support it (uri, wait_for), false
        # runs it in a plan too, and its operations with it (uri's dest), as in Ansible
        check_mode = task.flag("check_mode", scoped)
        record.check_mode, record.forced = bool(check_mode), check_mode is False
        args = render_value(task.args, scoped, task.where) if task.module.name != "assert" \
            else dict(task.args)
    args = without_omitted(task, args)
    args = task.module.convert(args, task.location)
    _, role = ctx.role_of(task)
    action = ACTIONS[task.module.name]
    become, become_user = _become(task, scoped, ctx)
    with stage(task.module.name, task):
        outcome = action(args, ActionContext(task, run, scoped, search_path(
            Path(ctx.play.path).parent, Path(task.path), role.path if role else None),
            ctx.options.dry_run if check_mode is None else bool(check_mode), become,
            become_user))
    if outcome.calls:  # uri's dest: what it fetched, written by a journaled operation
        record.action = record.final = False
        record.registers = dict(outcome.registered)
        _add_operations(record, run, ctx, scoped, outcome.calls,
                        sudo_arguments(become, become_user))
        return
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
        else:
            run.fail()


def without_omitted(task: Task, args: dict[str, Any]) -> dict[str, Any]:
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


def loop_items(task: Task, variables: Variables) -> tuple[list[Any], float]:
    """The task's loop items on this host (`[None]`: no loop) and the pause between them."""
    if task.loop is None:
        return [None], 0.0
    with stage("loop", task):
        return task.loop.items(variables), task.loop.pause(variables)


def _prepare(record: TaskRecord, scoped: Variables, run: HostRun, ctx: PlayRun, role_when: Any
             ) -> None:
    """Render one task (one loop item) for one host and add its pyinfra operations."""
    task, result = record.task, record.result
    play, host = ctx.play, run.host
    if not when_holds(task, role_when, scoped):
        result.status = SKIPPED
        record.registered = registered.skipped()
        record.final = True
        return
    if task.changed_when is not None:
        if task.register and task.register in names_read(replace(task, args={}, when=None,
                                                                 failed_when=None)):
            record.changed_after = True  # it reads the task's own result: decided after it ran
        else:
            with stage("changed_when", task):
                record.counts_as_change = evaluate(task.changed_when, scoped, task.where)
    with stage("template", task):
        own = task.flag("no_log", scoped)
        record.no_log = bool(own if own is not None else play.flag("no_log", scoped))
        check_mode = task.flag("check_mode", scoped)
        record.check_mode = bool(check_mode)
        record.forced = check_mode is False
        record.ignore_errors = bool(task.flag("ignore_errors", scoped))
        become, become_user = _become(task, scoped, ctx)
        rendered = render_value(task.args, scoped, task.where)
    args = task.module.convert(without_omitted(task, rendered), task.location)
    record.capture_rc = task.module.name in ("command", "shell") and (
        task.register is not None or task.failed_when is not None or task.until is not None)
    host_ctx = HostContext(host, scoped, play.search_dirs(task), task.location,
                           capture_rc=record.capture_rc, become=become,
                           become_user=become_user)
    decided = None
    with stage(task.module.name, task), _reading_as(host, sudo_arguments(become, become_user)):
        try:
            calls = task.module.build(args, host_ctx)
        except Decided as found:
            decided = found.result
    if decided is not None:
        if decided.get("failed") and ctx.options.dry_run and any(
                r.will_change() for r in run.records if r.metas):
            # a plan: the host it read is not yet as the earlier tasks would leave it
            _unknown(record, InputError(f"known after apply: {decided.get('msg')}, as the "
                                        "host is before the earlier tasks change it"))
            return
        _decided(record, run, decided)
        return
    record.registers = host_ctx.registers
    _add_operations(record, run, ctx, scoped, calls, sudo_arguments(become, become_user))


@contextmanager
def _reading_as(host: Any, sudo: dict[str, Any]) -> Iterator[None]:
    """Within the block, the facts a module reads on `host` to build its operations are read
    as the task's operations will run (`sudo`: its become, as pyinfra's arguments), as
    Ansible runs the whole module as the become user (`creates:` looked up by that user). This
    is pyinfra's own rule for facts read inside an operation: they take its global arguments
    (`host.current_op_global_arguments`, read by `pyinfra.api.facts._handle_fact_kwargs`)."""
    if not sudo or host.current_op_global_arguments is not None:
        yield
        return
    host.current_op_global_arguments = dict(sudo)
    try:
        yield
    finally:
        host.current_op_global_arguments = None


def _become(task: Task, scoped: Variables, ctx: PlayRun) -> tuple[bool, str | None]:
    """The task's become (its own, else its block's or play's, as `flag` reads them) and the
    user it becomes (None: root)."""
    own = task.flag("become", scoped)
    become = own if own is not None else ctx.play_become
    return bool(become), task.become_user or ctx.play.become_user


def _decided(record: TaskRecord, run: HostRun, value: dict[str, Any]) -> None:
    """A task whose module knew its result without an operation (modules.base.Decided): its
    status and registered value, a failure taken as an action's is."""
    result = record.result
    record.final = True
    record.registered = value
    if value.get("failed"):
        result.status, result.error = FAILED, str(value.get("msg") or "failed")
        if record.ignore_errors:
            result.status, result.error = OK, f"ignored: {result.error}"
        else:
            run.fail()
    else:
        result.status = SKIPPED if value.get("skipped") else OK


def _add_operations(record: TaskRecord, run: HostRun, ctx: PlayRun, scoped: Variables,
                    calls: list[OpCall], sudo: dict[str, Any]) -> None:
    """Add a task's operation calls on its host, with the task's become (`sudo`, pyinfra's
    arguments for it), environment, retries and error handling as pyinfra's global
    arguments."""
    task, result = record.task, record.result
    play, host, session = ctx.play, run.host, ctx.session
    with stage("environment", task):
        environment = _task_environment(play, task, scoped)
    global_args: dict[str, Any] = {"name": task.name, **sudo}
    if record.ignore_errors or task.failed_when is not None:
        global_args["_ignore_errors"] = True  # failed_when decides, after the run
    if record.check_mode:
        global_args["_if"] = [lambda: False]
    if environment:
        global_args["_env"] = environment
    if task.until is not None:
        with stage("until", task):
            global_args.update(_retrying(record, scoped))
    for call in calls:
        try:
            inspect.signature(call.op._inner).bind(**call.kwargs)
        except TypeError as err:
            raise InputError(f"{task.module.name}: {err}", **task.location) from None
        with stage(task.module.name, task):  # pyinfra reads facts and checks arguments here
            metas = add_op(session.state, call.op, host=host, **global_args, **call.kwargs)
        record.metas.append(metas[host])
        record.calls.append(call)
        if call.preview:
            record.previews.append(call.preview)
        _guard_run(session, host, record)
    if not calls:
        result.status = OK  # nothing to do (e.g. `creates:` already there)
        record.registered = {"changed": False, "failed": False, **record.registers}
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


def _retrying(record: TaskRecord, scoped: Variables) -> dict[str, Any]:
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
        stdout, rc = exit_status(list(output.get("stdout_lines") or []))
        value = registered.of_output(True, bool(rc), stdout,
                                     list(output.get("stderr_lines") or []), rc=rc)
        try:
            return not until_holds(record, scoped, value)
        except Exception:  # noqa: BLE001 - decided (and reported) once the task ran
            return False

    return {"_retries": max(retries, 0), "_retry_delay": max(delay, 0), "_retry_until": again}


def _guard_run(session: Session, host: Any, record: TaskRecord) -> None:
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
            record.run_error = one_line(exc)
            yield FunctionCommand(failed_operation, (), {})

    data.command_generator = guarded


def deploy_task(role: Any) -> Task:
    """The place of a role's deploy.py among its tasks, for variables and errors."""
    return Task(name=f"{role.name}/deploy.py", module=_DEPLOY, args={},
                path=str(role.path / "deploy.py"), line=1, role=role.name)


_DEPLOY = Module("deploy", {}, lambda args, ctx: [])


def add_deploys(role: Any, host: Any, session: Session, variables: Variables) -> list[TaskRecord]:
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
            records.append(TaskRecord(task, TaskResult(task.name, task.where, NOT_RUN,
                                                    role=role.name), [meta]))
    return records
