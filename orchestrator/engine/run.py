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
A failed task stops its host, unless `ignore_errors` or a block's `rescue` takes it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import gevent
from pyinfra.context import ctx_state

from orchestrator.engine import predictions, segment
from orchestrator.engine.context import PlayRun
from orchestrator.engine.factcache import Reads, facts_read_once, facts_through, read_together
from orchestrator.engine.factshell import FactShell
from orchestrator.engine.failures import one_line
from orchestrator.engine.hostrun import HostMemory, HostRun
from orchestrator.engine.journaling import record_journals, seal_journals
from orchestrator.engine.options import RunOptions
from orchestrator.engine.outcome import collect, complete, hide_no_log, hide_secrets
from orchestrator.engine.program import program
from orchestrator.engine.progress import Progress
from orchestrator.engine.results import (
    FAILED,
    HostResult,
    PlayResult,
    RunResult,
)
from orchestrator.engine.secret_versions import check_secret_versions
from orchestrator.engine.settle import forced_ops, settle
from orchestrator.engine.variables import HostVars, play_variables
from orchestrator.errors import HostError, InputError, OrcError
from orchestrator.events import HostDone, Listener, PlayStarted, ignore
from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Play, Playbook
from orchestrator.load.vars_files import play_vars_files
from orchestrator.secrets import masking
from orchestrator.templating.render import Variables
from orchestrator.transport.session import Session, open_session
from orchestrator.undo import record as journal


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
             on_event: Listener | None = None, memory: dict[str, HostMemory] | None = None,
             connections: Mapping[str, Any] | None = None) -> PlayResult:
    """Run (or plan) one play on `names`, segment by segment (see the module docstring).
    `memory` carries each host's facts (gathered, set_fact, register) from play to play of one
    run, as Ansible keeps them; it is read and written here. `connections`: SSH connections
    already open to some hosts (the rollout's host locks), used instead of new ones."""
    emit = on_event or ignore
    result = PlayResult(play.name)
    if not names:
        return result
    emit(PlayStarted(play.name, tuple(names)))
    vars_files = play_vars_files(play)
    base = play_variables(play, inventory, names, vars_files)
    play_become = play.flag("become", Variables({**base, **options.extra_vars}))
    progress = Progress(emit)
    session = open_session(inventory, names, on_op=progress.on_op, parallel=options.forks,
                           connections=connections)
    progress.session = session
    for name in names:
        if name in session.unreachable:
            result.hosts[name] = HostResult(name, error=session.unreachable[name],
                                            unreachable=True)
            emit(HostDone(name, "unreachable", session.unreachable[name]))
    # each host's fact reads, while operations are added and while they run, over one shell
    shells = {name: FactShell(host) for name, host in session.hosts.items()}
    check_secret_versions(play_become, vars_files, session, options, result, shells)
    ctx = PlayRun(play, inventory, session, base, options, play_become, emit=emit)
    memory = {} if memory is None else memory
    runs = {name: HostRun(name, host) for name, host in session.hosts.items()}
    for name, run in runs.items():
        if name in memory:
            run.gathered = dict(memory[name].gathered or {}) or None
            run.facts_set = dict(memory[name].facts_set)
    def runtime(name: str) -> tuple[Any, tuple[Any, ...]]:
        if name in runs:
            return runs[name].gathered, runs[name].runtime
        if name in memory:  # a host of an earlier play only
            return memory[name].gathered, (memory[name].facts_set,)
        return None, ()

    base["hostvars"] = HostVars(inventory, runtime)  # other hosts' facts as they are set
    programs = {name: program(ctx, run) for name, run in runs.items()}
    carried: dict[str, dict[Any, Any]] = {}
    errors: dict[str, OrcError] = {}  # hosts whose preparation failed, and why
    batches: dict[str, list[journal.Batch]] = {}
    stopped: str | None = None
    nothing_ran = True  # no host has been touched yet
    predicted = predictions.load(options.state_dir, play)
    segments_read: list[Reads | None] = []  # what each segment's first host asked for
    while programs:
        start = segment.mark(session.state)
        for run in runs.values():
            run.segment_start = len(run.records)
        # in a plan nothing runs between segments (but `check_mode: false` tasks): the facts
        # read for one segment stand for the next
        first = runs[next(iter(programs))]
        asked: Reads = []
        index = len(segments_read)
        outcomes = _advance(programs, runs, session, shells,
                            carried if options.dry_run else None,
                            predicted[index] if index < len(predicted) else None, asked)
        segments_read.append(None if play.no_log or any(
            r.no_log for r in first.records[first.segment_start:]) else asked)
        failing = {n: e for n, e in outcomes.items() if isinstance(e, Exception)}
        if nothing_ran and failing and len(failing) == len(outcomes) and len(
                {str(e) for e in failing.values()}) == 1 and all(
                isinstance(e, InputError) for e in failing.values()):
            # the same error on every host before anything ran: the input is wrong whatever
            # the host (an undefined variable, a bad argument); said once
            error = next(iter(failing.values()))
            for shell in shells.values():
                shell.close()
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
            for name, batch in record_journals(ctx, runs, current, new, result,
                                                emit).items():
                batches.setdefault(name, []).append(batch)
            journal.crash_point()
        settled: set[str] = set()
        if options.dry_run:
            new = forced_ops(new, current, session)  # a plan runs only `check_mode: false` tasks
            for host in new:
                carried.pop(host.name, None)  # it ran something: its facts are read anew
        else:
            settled = settle(current, session)
            new = {h: hashes for h, hashes in new.items() if h.name not in settled}
        if new:
            nothing_ran = False
            try:
                with facts_through(list(new), shells):
                    segment.run(session.state, new)
            except Exception as exc:  # noqa: BLE001 - the run stopped: its hosts fail below
                stopped = one_line(exc)
            progress.flush()
        for name in settled:  # it sat this segment out and goes on with the next
            session.state.active_hosts.add(session.hosts[name])
        for name, records in current.items():
            complete(ctx, runs[name], records, settled=name in settled)
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
    if segments_read:
        predictions.save(options.state_dir, play, segments_read)
    sealing: dict[str, str] = {}
    if batches:
        sealing = seal_journals(play_become, batches, session)
    for shell in shells.values():
        shell.close()
    for name, run in runs.items():
        if name in result.hosts:  # dropped before it was prepared (its secret versions)
            continue
        host_result = collect(name, run.records, session, stopped=stopped)
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
                hide_no_log(record.result)
        hide_secrets(host_result)
        result.hosts[name] = host_result
        emit(HostDone(name, host_result.status, host_result.reason))
    return result


_DONE = object()


def _advance(programs: dict[str, Iterator[Any]], runs: dict[str, HostRun], session: Session,
             shells: dict[str, FactShell], carried: dict[str, dict[Any, Any]] | None = None,
             predicted: Reads | None = None, asked: Reads | None = None) -> dict[str, Any]:
    """Move each host's program to its next flush (None), its end (_DONE) or an error (the
    exception). Each host reads the fact commands `predicted` (what this segment's first host
    asked for when the play last ran, `predictions.load`) in one command
    (`factcache.read_together`) and goes on, one greenlet per host, as pyinfra prepares hosts.
    With no prediction, one host goes first and notes the facts it reads; then every other
    host reads those together. pyinfra's state context is process-wide, so it is held around
    all of them (a greenlet leaving add_op would otherwise unset it under the others).
    `carried`: each host's fact answers from earlier segments where nothing ran since (a plan),
    used and kept up to date. `asked` collects what the first host asked for, to predict the
    next run's reads."""
    reads: Reads = list(predicted or [])
    names = list(programs)
    pilot = names[0] if not reads and len(names) > 1 else None

    def advance(name: str) -> Any:
        run = runs[name]
        try:
            known = dict(carried.get(name) or {}) if carried is not None else {}
            if name != pilot and reads:
                known.update(read_together(run.host, reads, shells[name]))
            # nothing runs while operations are added: each fact is read once
            with facts_read_once(run.host, known=known,
                                 reads=reads if name == pilot else None,
                                 asked=asked if name == names[0] else None,
                                 shell=shells[name]) as answers:
                if carried is not None:
                    carried[name] = answers
                next(programs[name])
        except StopIteration:
            return _DONE
        except Exception as exc:  # a value, so gevent never prints it as a traceback
            return exc if isinstance(exc, OrcError) else HostError(one_line(exc))
        return None

    greenlets: dict[str, Any] = {}
    with ctx_state.use(session.state):
        if pilot is not None:
            greenlets[pilot] = gevent.spawn(advance, pilot)
            gevent.joinall(list(greenlets.values()))
        greenlets.update({name: gevent.spawn(advance, name) for name in names
                          if name not in greenlets})
        gevent.joinall(list(greenlets.values()))
    return {name: greenlet.value for name, greenlet in greenlets.items()}
