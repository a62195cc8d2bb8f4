"""Each host's walk through a play, in Ansible's order, as a generator.

facts; pre_tasks; handlers; roles; tasks; handlers; post_tasks; handlers (Ansible's play
order, docs: playbooks_intro). The program adds each task's operations (engine/compile.py)
and yields `FLUSH` when a task reads a result not known yet (a registered value, a handler
flush): the run (engine/run.py) then runs every host's new operations and resumes the
programs. Blocks with rescue/always, include_tasks/include_role (with `apply:` and loops),
`meta: flush_handlers` and handlers notifying handlers live here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyinfra.api.operation import add_op
from pyinfra.operations import python

from orchestrator.engine import gather as gathering
from orchestrator.engine.actions import MAY_FAIL, READS_HOST
from orchestrator.engine.compile import (
    action_record,
    add_deploys,
    add_task,
    deploy_task,
    loop_items,
    when_holds,
)
from orchestrator.engine.context import PlayRun, Scope, variables_for
from orchestrator.engine.failures import stage
from orchestrator.engine.hostrun import HostRun
from orchestrator.engine.options import selected, tags_selected
from orchestrator.engine.reads import names_read, waits_for
from orchestrator.engine.results import (
    FAILED,
    NOT_RUN,
    OK,
    SKIPPED,
)
from orchestrator.engine.variables import LazyFacts
from orchestrator.errors import InputError
from orchestrator.load import yamlfile
from orchestrator.load.loops import Loop
from orchestrator.load.playbook import roles_path
from orchestrator.load.roles import with_keywords
from orchestrator.load.tasks import Block, Task, flatten, parse_tasks
from orchestrator.templating.render import Variables, evaluate, render_value

FLUSH = "flush"  # what a host's program yields: run what was added, then go on


def program(ctx: PlayRun, run: HostRun) -> Iterator[str]:
    """One host's way through the play, in Ansible's order: facts, pre_tasks, handlers, roles
    (each with its deploy.py), tasks, handlers, post_tasks, handlers. It yields `FLUSH` where
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
    yield from _walk(ctx, run, play.pre_tasks, Scope(tags=frozenset()))
    yield from _flush_handlers(ctx, run)
    for ref, role in play.roles:
        scope = Scope(ref, role, ref.tags, ref.when)
        yield from _walk(ctx, run, role.tasks, scope)
        if role.deploys and tags_selected(ref.tags, ctx.options) and not run.stopped:
            # deploy.py has no tags or `when` of its own: the role's, from the play, decide
            variables = variables_for(ctx, run, deploy_task(role), scope)
            if ref.when is None or evaluate(ref.when, variables, str(role.path)):
                run.records += add_deploys(role, run.host, ctx.session, variables)
    yield from _walk(ctx, run, play.tasks, Scope())
    yield from _flush_handlers(ctx, run)
    yield from _walk(ctx, run, play.post_tasks, Scope())
    yield from _flush_handlers(ctx, run)


def _reads_other_hosts(task: Task, run: HostRun, scope: Scope) -> bool:
    """A task reading `hostvars` after tasks of this segment set variables (set_fact,
    include_vars, register) waits until every host has reached it, as Ansible runs each task
    on all hosts before the next: another host's values are then the ones set before it."""
    if not any(r.action and r.task.module.name in _SETS_VARIABLES or r.task.register
               for r in run.segment()):
        return False
    read = names_read(task, scope.when)
    return "hostvars" in read or "*" in read


_SETS_VARIABLES = ("set_fact", "include_vars")


def _walk(ctx: PlayRun, run: HostRun, items: list[Any], scope: Scope) -> Iterator[str]:
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
                (action in READS_HOST | MAY_FAIL or task.module.reads_host_with(task.args))
                and run.will_change()) or (
                _reads_other_hosts(task, run, scope)) or (
                action == "meta" and task.args.get("_raw_params") == "flush_handlers"):
            yield FLUSH
            if run.stopped:
                return
        if action == "meta":
            yield from _meta(ctx, run, task, scope)
        elif action in ("include_tasks", "include_role"):
            yield from _include(ctx, run, task, scope)
        else:
            variables = variables_for(ctx, run, task, scope)
            add_task(task, run, ctx, variables, scope.when,
                      refresh=lambda: variables_for(ctx, run, task, scope))
        if run.flush_after:  # the task's failure is decided after it runs
            run.flush_after = False
            yield FLUSH


def _block(ctx: PlayRun, run: HostRun, block: Block, scope: Scope) -> Iterator[str]:
    """`block`, then `rescue` where a task of the block failed (the failure is then forgiven
    when the rescue succeeds), then `always`, as Ansible runs them."""
    mark = len(run.records)
    if block.rescue:
        run.rescuing += 1  # failures inside wait for the rescue, not stop the host
    try:
        yield from _walk(ctx, run, list(block.block), scope)
        if block.rescue:
            yield FLUSH
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


def _meta(ctx: PlayRun, run: HostRun, task: Task, scope: Scope) -> Iterator[str]:
    what = task.args["_raw_params"]
    variables = variables_for(ctx, run, task, scope)
    if not when_holds(task, scope.when, variables):
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


def _include(ctx: PlayRun, run: HostRun, task: Task, scope: Scope) -> Iterator[str]:
    """`include_tasks` / `include_role`: decided and loaded when reached, per host and per
    loop item (the file name may be a template), then run in the include's place with its
    `vars` and the loop variable."""
    variables = variables_for(ctx, run, task, scope)
    with stage("loop", task):
        items, pause = loop_items(task, variables)
    loop = task.loop
    if loop is not None and not items:  # an empty loop: the include is skipped
        action_record(task, run).result.status = SKIPPED
    for index, item in enumerate(items):
        looped = loop.scope(index, item, items) if loop is not None else {}
        scoped = variables.child(**looped) if looped else variables
        with stage("loop_control: label", task):
            label = loop.label(scoped) if loop is not None else None
        record = action_record(task, run, label)
        if pause and index:  # loop_control.pause: between two items' included tasks
            add_op(ctx.session.state, python.call, Loop.wait, pause, host=run.host,
                   name=f"{task.name} (pause {pause:g}s)")
        if not when_holds(task, scope.when, scoped):
            record.result.status = SKIPPED
            continue
        with stage("template", task):
            args = render_value(task.args, scoped, task.where)
        record.result.status = OK
        inner = Scope(scope.ref, scope.role, scope.tags, None,
                       {**scope.vars, **task.vars, **looped})
        if task.module.name == "include_tasks":
            name = args.get("file") or args.get("_raw_params")
            if not name:
                raise InputError("include_tasks: needs a file", **task.location)
            tasks = _included_tasks(ctx, task, str(name), scope)
            yield from _walk(ctx, run, _applied(tasks, args.get("apply"), task), inner)
            continue
        yield from _include_role(ctx, run, task, args, inner)


def _include_role(ctx: PlayRun, run: HostRun, task: Task, args: dict[str, Any],
                  inner: Scope) -> Iterator[str]:
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
    yield from _walk(ctx, run, tasks, Scope(ref, role, inner.tags, None, inner.vars))


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


def _included_tasks(ctx: PlayRun, task: Task, name: str, scope: Scope,
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


def _flush_handlers(ctx: PlayRun, run: HostRun) -> Iterator[str]:
    """Run the handlers notified since the last flush, in the order they are defined, each
    once; a handler's own notifications are flushed in turn (Ansible's handlers notifying
    handlers). A notification counts when its task changed (in a plan: would change)."""
    handlers = [*ctx.play.all_handlers(), *(h for _, role in ctx.extra_roles
                                             for h in flatten(role.handlers))]
    known = {h.name for h in handlers} | {k for h in handlers for k in h.listen}
    for _ in range(len(handlers) + 1):
        if run.stopped:
            return
        yield FLUSH
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
            variables = variables_for(ctx, run, handler, Scope(ref, role))
            add_task(handler, run, ctx, variables, None, notifiers)
            added = True
        if not added:
            return
