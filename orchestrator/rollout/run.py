"""A staged rollout: each play's hosts in canary waves, each wave applied, health-gated and
baked before the next one starts; a wave that fails over the threshold halts the run.

The run's life is here too, so the CLI and tests drive it alike: `start_run` checks what needs
no host, then records the run in the index holding its hosts; `resume_run` takes a paused or
interrupted run back from the index (playbook, inventory and `RunOptions` as it started);
`roll_out` runs the waves from the recorded position, and an input error on the way marks the
run failed (it is not resumable); `abort_run` ends a paused or interrupted run.

Every wave gets its own pyinfra State (through `engine.run.run_play`). After each wave the run's
position is written to the run store, so `orc resume RUN` (another process, later) continues with
the next wave and `orc abort RUN` ends it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator import cluster
from orchestrator.engine.options import RunOptions
from orchestrator.engine.results import PlayResult
from orchestrator.engine.run import run_play
from orchestrator.errors import InputError, OrcError
from orchestrator.events import (
    Baking,
    HealthChecking,
    JournalRecorded,
    Listener,
    RunDone,
    WaveDone,
    WaveStarted,
    ignore,
)
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.load.playbook import Play, Playbook, load_playbook
from orchestrator.load.startat import start_at_task
from orchestrator.load.vars_files import play_vars_files
from orchestrator.rollout import locks
from orchestrator.rollout.health import (
    CheckResult,
    check_hosts,
    command_runner,
    hosts_healthy,
    unhealthy,
    variables_for,
)
from orchestrator.rollout.rollback import roll_back_waves
from orchestrator.rollout.store import (
    ABORTED,
    FAILED,
    HALTED,
    INTERRUPTED,
    PAUSED,
    ROLLED_BACK,
    RUNNING,
    SUCCEEDED,
    Run,
    RunStore,
    lock_keys,
)
from orchestrator.rollout.waves import Wave, plan_waves, wave_failed



@dataclass
class WaveReport:
    play: str
    play_index: int
    index: int
    hosts: list[str]
    status: str = RUNNING  # running | ok | failed
    started: float = 0.0
    applied: float = 0.0  # when the apply of the wave ended (health and bake follow)
    finished: float = 0.0
    failed_hosts: list[str] = field(default_factory=list)
    reason: str | None = None
    apply: PlayResult | None = None
    health: dict[str, list[CheckResult]] = field(default_factory=dict)
    # each host's health before the wave changed it (True: every check passed): a rollback
    # restores that state, so a host unhealthy before is not expected healthy after it
    health_before: dict[str, bool] = field(default_factory=dict)
    rollback: dict[str, Any] | None = None  # the automatic rollback this wave's failure started


@dataclass
class RolloutReport:
    run_id: str
    playbook: str
    status: str = RUNNING
    started: float = field(default_factory=time.time)
    finished: float = 0.0
    waves: list[WaveReport] = field(default_factory=list)
    rollback: dict[str, Any] | None = None  # what `rollback: auto|wave` restored on a halt

    @property
    def failed(self) -> bool:
        return self.status not in (SUCCEEDED, PAUSED)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wave_table(book: Playbook, inventory: Inventory, limit: str | None = None
               ) -> list[tuple[str, list[Wave]]]:
    """What `orc plan` shows: each play's waves, as the rollout would cut them. Raises the
    `InputError` of a canary that is not among its play's hosts."""
    return [(play.name, plan_waves(play.name, inventory.select(play.hosts, limit),
                                   play.policy.serial, list(play.policy.canary), play.location))
            for play in book.plays]


def run_wave(play: Play, play_index: int, wave: Wave, inventory: Inventory,
             options: RunOptions, emit: Listener, health_before: dict[str, bool] | None = None,
             memory: dict[str, Any] | None = None, connections: dict[str, Any] | None = None,
             apply_play: cluster.PlayRunner = run_play) -> WaveReport:
    """Apply one wave, gate it on health and bake it; `health_before` is the hosts' health
    before the run changed them (`health.hosts_healthy`), kept in the report for a rollback.
    `connections`: the ones holding the play's host locks, which the apply runs over.
    `apply_play` applies the play to the wave's hosts: `run_play` in this process, or a
    cluster's (`cluster.play_runner`)."""
    policy = play.policy
    report = WaveReport(play.name, play_index, wave.index, list(wave.hosts), started=time.time())
    emit(WaveStarted(play.name, wave.index, tuple(wave.hosts)))
    variables, runner = variables_for(play, inventory), command_runner(inventory, connections)
    report.health_before = dict(health_before or {})
    report.apply = apply_play(play, inventory, list(wave.hosts), options, emit, memory,
                              connections)
    report.applied = time.time()
    failed = {h: r.reason or "failed" for h, r in report.apply.hosts.items() if r.failed}
    healthy_candidates = [h for h in wave.hosts if h not in failed]
    if policy.health and healthy_candidates:
        emit(HealthChecking(wave.index, tuple(healthy_candidates)))
        report.health = check_hosts(list(policy.health), healthy_candidates, variables, runner)
        failed.update(unhealthy(report.health))
    if policy.bake and policy.health and not wave_failed(len(failed), len(wave.hosts),
                                                         policy.max_fail_percentage):
        bake_end = time.time() + policy.bake
        step = max(0.5, min(c.interval for c in policy.health))
        while time.time() < bake_end:
            emit(Baking(wave.index, round(bake_end - time.time(), 1)))
            time.sleep(min(step, max(0.0, bake_end - time.time())))
            baking = [h for h in wave.hosts if h not in failed]
            again = check_hosts([replace(c, retries=0) for c in policy.health], baking,
                                variables, runner)
            for host, results in again.items():
                report.health[host] = report.health.get(host, []) + results
            turned = unhealthy(again)
            failed.update({h: f"during bake: {why}" for h, why in turned.items()})
            if turned:
                break
    for host, why in failed.items():  # the apply's table says what the wave says
        applied = report.apply.hosts.get(host)
        if applied is not None and not applied.failed:
            applied.error = f"health: {why}"
    report.failed_hosts = sorted(failed)
    bad = wave_failed(len(failed), len(wave.hosts), policy.max_fail_percentage) or (
        policy.any_errors_fatal and bool(failed))
    report.status = FAILED if bad else "ok"
    if failed:
        first = sorted(failed)[0]
        report.reason = f"{len(failed)}/{len(wave.hosts)} host(s) failed; {first}: {failed[first]}"
    report.finished = time.time()
    emit(WaveDone(wave.index, report.status, report.reason))
    return report


def run_rollout(book: Playbook, inventory: Inventory, options: RunOptions, store: RunStore,
                run: Run, *, on_event: Listener | None = None) -> RolloutReport:
    """Run (or continue) `run` from its recorded position to the end, a pause or a halt;
    each wave's play on the cluster of `options.cluster` when there is one (connected before
    any host is touched; `ClusterError` when it cannot be used)."""
    with cluster.play_runner(options.cluster) as apply_play:
        return _run_waves(book, inventory, options, store, run, on_event, apply_play)


def _run_waves(book: Playbook, inventory: Inventory, options: RunOptions, store: RunStore,
               run: Run, on_event: Listener | None, apply_play: cluster.PlayRunner
               ) -> RolloutReport:
    emit = _indexing(on_event or ignore, store, run.id)
    options = replace(options, run_id=run.id)
    report = RolloutReport(run.id, str(book.path))
    recorded = store.waves(run.id)
    report.waves = [_wave_from_dict(w) for w in recorded if w["status"] != RUNNING]
    # a wave a killed process began keeps the health its hosts had before it changed them
    baselines = {(w["play_index"], w["index"]): w.get("health_before") or {} for w in recorded}
    start_play, start_wave = run.position["play"], run.position["wave"]
    failed_hosts: set[str] = {h for w in report.waves for h in w.failed_hosts}
    memory: dict[str, Any] = {}  # each host's facts, from play to play (as in Ansible)
    for play_index, play in enumerate(book.plays):
        if play_index < start_play:
            continue
        policy = play.policy
        names = [h for h in inventory.select(play.hosts, options.limit) if h not in failed_hosts]
        waves = plan_waves(play.name, names, policy.serial, list(policy.canary), play.location)
        first = start_wave if play_index == start_play else 0
        pending = [h for w in waves[first:] for h in w.hosts]
        if first:  # resumed: a killed process of this run may still hold hosts it is done with
            done = [h for h in inventory.select(play.hosts, options.limit) if h not in pending]
            locks.HostLocks(inventory, run.id, done).release()
        # the play's host locks are taken once, in parallel, and held until it ends or stops
        locked = locks.acquire(inventory, pending, run.id, store)
        try:
            for wave in waves[first:]:
                before = dict(baselines.get((play_index, wave.index)) or {})
                missing = [h for h in wave.hosts if h not in before]
                if missing:
                    before |= hosts_healthy(play, inventory, missing, locked.connections)
                store.record_wave(run.id, play_index, wave.index, list(wave.hosts), RUNNING,
                                  time.time(), None, asdict(WaveReport(
                                      play.name, play_index, wave.index, list(wave.hosts),
                                      health_before=before)))
                wave_report = run_wave(play, play_index, wave, inventory, options, emit, before,
                                       memory, locked.connections, apply_play)
                report.waves.append(wave_report)
                position = {"play": play_index, "wave": wave.index + 1}
                # saved with the wave that passed: a run killed in the next one resumes there
                # (a failed wave stays the position until the halt is recorded)
                store.record_wave(run.id, play_index, wave.index, list(wave.hosts),
                                  wave_report.status, wave_report.started, wave_report.finished,
                                  asdict(wave_report),
                                  None if wave_report.status == FAILED else position)
                failed_hosts |= set(wave_report.failed_hosts)
                if wave_report.status == FAILED:
                    if policy.rollback != "manual":
                        report.rollback = roll_back_waves(report.waves, play, inventory, run.id,
                                                          emit)
                        wave_report.rollback = report.rollback  # kept in the index for reports
                        store.record_wave(run.id, play_index, wave.index, list(wave.hosts),
                                          wave_report.status, wave_report.started,
                                          wave_report.finished, asdict(wave_report))
                        if policy.rollback == "auto" and report.rollback["ok"]:
                            return _finish(report, store, ROLLED_BACK, position, emit)
                    return _finish(report, store, HALTED, position, emit)
                last = play_index == len(book.plays) - 1 and wave.index == len(waves) - 1
                wants_pause = policy.pause or (options.pause_after_wave is not None
                                               and wave.index + 1 == options.pause_after_wave)
                if wants_pause and not last:
                    return _finish(report, store, PAUSED, position, emit)
        finally:
            locked.release()
        start_wave = 0
    status = FAILED if failed_hosts else SUCCEEDED
    return _finish(report, store, status, {"play": len(book.plays), "wave": 0}, emit)


def _indexing(emit: Listener, store: RunStore, run_id: str) -> Listener:
    """Keep the controller's index of what each host recorded, then pass events on."""
    def on_event(event) -> None:
        if isinstance(event, JournalRecorded):
            batch = event.batch
            store.record_preimages(run_id, event.host, batch.name, [
                (i.seq, i.kind, i.key, i.task, i.predicted, i.summary()) for i in batch.images])
        emit(event)
    return on_event


def _finish(report: RolloutReport, store: RunStore, status: str, position: dict[str, int],
            emit: Listener) -> RolloutReport:
    report.status = status
    report.finished = time.time()
    store.set_status(report.run_id, status, position)
    emit(RunDone(report.run_id, status))
    return report


@dataclass
class Rollout:
    """A run recorded in the index, holding its hosts, with what it rolls out: what `start_run`
    and `resume_run` return and `roll_out` runs."""

    book: Playbook
    inventory: Inventory
    options: RunOptions
    store: RunStore
    run: Run

    def waves(self) -> list[tuple[str, list[Wave]]]:
        """Each play's waves, as `wave_table` cuts them (for a live view's progress)."""
        return wave_table(self.book, self.inventory, self.options.limit)


def load_run(playbook: Path | str, inventories: list[str], options: RunOptions
             ) -> tuple[Playbook, Inventory]:
    """The playbook (from `options.start_at_task` on) and the inventory a run works with."""
    book = load_playbook(playbook)
    if options.start_at_task:
        book = start_at_task(book, options.start_at_task)
    return book, load_inventory(inventories, playbook_dir=Path(playbook).parent)


def run_hosts(book: Playbook, inventory: Inventory, limit: str | None) -> list[str]:
    """Every host a run of `book` works on (the hosts it holds), sorted."""
    return sorted({h for play in book.plays for h in inventory.select(play.hosts, limit)})


def preflight(book: Playbook, inventory: Inventory, options: RunOptions) -> None:
    """Raise the `OrcError` a run of `book` would meet before reaching any host, so it comes
    before the run is recorded (never a failed run in `orc runs` that said "wave 1"): waves
    (a canary not among its play's hosts) and every play's `vars_files` (secret files
    decrypted with the local identity and their signatures verified, as each wave will
    again), and the cluster of `--cluster` (it answers and has workers). The rollout keys
    themselves were read with the playbook (`load.policy`)."""
    wave_table(book, inventory, options.limit)
    for play in book.plays:
        if inventory.select(play.hosts, options.limit):
            play_vars_files(play)
    if options.cluster:
        cluster.check(options.cluster)


def start_run(book: Playbook, inventory: Inventory, options: RunOptions, store: RunStore, *,
          confirm: Callable[[list[str]], object] | None = None) -> Rollout:
    """Record a new run of `book` in `store`, holding its hosts, after `preflight` and
    `confirm(hosts)` (which may raise to stop first: a question at a terminal). The index
    then forgets runs beyond `options.keep_runs`. Raises `LockError` when another run holds
    one of the hosts."""
    preflight(book, inventory, options)
    hosts = run_hosts(book, inventory, options.limit)
    if confirm is not None:
        confirm(hosts)
    run = store.start(str(book.path.resolve()), list(inventory.sources), options.to_dict(),
                      lock_keys(inventory, hosts))
    store.prune(options.keep_runs)
    return Rollout(book, inventory, replace(options, state_dir=str(store.root)), store, run)


def resume_run(store: RunStore, run_id: str) -> Rollout:
    """Take a paused or interrupted run back from `store` (its playbook, inventory and
    options as it started), for `roll_out` to continue with its next wave."""
    stored = store.get(run_id)
    if stored.status not in (PAUSED, INTERRUPTED):
        raise InputError(f"run {stored.id} is {stored.status}: only a paused or interrupted run "
                         "can be resumed")
    options = RunOptions.from_dict(stored.options)
    book, inventory = load_run(stored.playbook, stored.inventory, options)
    preflight(book, inventory, options)
    run = store.start(stored.playbook, stored.inventory, stored.options, stored.hosts,
                      run_id=stored.id)
    return Rollout(book, inventory, replace(options, state_dir=str(store.root)), store, run)


def roll_out(rollout: Rollout, on_event: Listener | None = None) -> RolloutReport:
    """Run `rollout` from its recorded position (`run_rollout`). Input found bad on the way
    (a template, a secret) marks the run failed, neither resumable nor holding its hosts,
    and is raised."""
    try:
        return run_rollout(rollout.book, rollout.inventory, rollout.options, rollout.store,
                           rollout.run, on_event=on_event)
    except OrcError:
        rollout.store.set_status(rollout.run.id, FAILED)
        raise


def abort_run(store: RunStore, run_id: str) -> Run:
    """End a paused or interrupted run: its remaining waves never run, its hosts are free."""
    run = store.get(run_id)
    if run.status not in (PAUSED, INTERRUPTED):
        raise InputError(f"run {run.id} is {run.status}: only a paused or interrupted run "
                         "can be aborted")
    store.set_status(run.id, ABORTED)
    return store.get(run.id)


def _wave_from_dict(data: dict[str, Any]) -> WaveReport:
    """A wave recorded by an earlier process, for the report of a resumed run."""
    fields = {k: v for k, v in data.items() if k not in ("apply", "health")}
    return WaveReport(**fields)
