"""A staged rollout: each play's hosts in canary waves, each wave applied, health-gated and
baked before the next one starts; a wave that fails over the threshold halts the run.

Every wave gets its own pyinfra State (through `engine.run.run_play`). After each wave the run's
position is written to the run store, so `orc resume RUN` (another process, later) continues with
the next wave and `orc abort RUN` ends it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from orchestrator import hostlock
from orchestrator.engine.options import RunOptions
from orchestrator.engine.results import PlayResult
from orchestrator.engine.run import run_play
from orchestrator.errors import InputError
from orchestrator.events import (
    Baking,
    HealthChecking,
    JournalRecorded,
    Listener,
    RolledBack,
    RunDone,
    WaveDone,
    WaveStarted,
    ignore,
)
from orchestrator.health import CheckResult, HealthCheck, check_hosts, parse_checks, parse_duration
from orchestrator.inventory import Inventory
from orchestrator.load import coerce
from orchestrator.load.playbook import Play, Playbook
from orchestrator.load.tasks import flag
from orchestrator.runs import (
    ABORTED,
    FAILED,
    HALTED,
    PAUSED,
    ROLLED_BACK,
    RUNNING,
    SUCCEEDED,
    Run,
    RunStore,
)
from orchestrator.templating.render import Variables
from orchestrator.transport.remote import run_command
from orchestrator.transport.targets import target_for
from orchestrator.waves import Wave, plan_waves, wave_failed

ROLLBACK_POLICIES = ("auto", "wave", "manual")


@dataclass(frozen=True)
class Policy:
    """A play's rollout keys, checked once at the start."""

    serial: Any = None
    canary: tuple[str, ...] = ()
    max_fail_percentage: float | None = None
    any_errors_fatal: bool = False
    health: tuple[HealthCheck, ...] = ()
    bake: float = 0.0
    pause: bool = False
    rollback: str = "manual"

    @classmethod
    def of(cls, play: Play) -> Policy:
        """Each key converted to its type (booleans and numbers as Ansible converts them); a
        value that is not one is an error at the key's line."""
        raw = play.rollout
        rollback = str(raw.get("rollback", "manual"))
        if rollback not in ROLLBACK_POLICIES:
            raise InputError(f"rollback: {rollback!r} is not one of {', '.join(ROLLBACK_POLICIES)}",
                             **play.where_of("rollback"))
        canary = raw.get("canary") or []
        canary = [canary] if isinstance(canary, str) else canary
        if not isinstance(canary, list) or not all(isinstance(h, str) for h in canary):
            raise InputError("canary: expected a host name or a list of them",
                             **play.where_of("canary"))
        return cls(
            serial=raw.get("serial"),
            canary=tuple(canary),
            max_fail_percentage=percentage(raw.get("max_fail_percentage"),
                                           play.where_of("max_fail_percentage")),
            any_errors_fatal=bool(play_flag(play, "any_errors_fatal")),
            health=tuple(parse_checks(raw.get("health"), play.where_of("health"))),
            bake=parse_duration(raw.get("bake", 0), play.where_of("bake"), "bake"),
            pause=bool(play_flag(play, "pause")),
            rollback=rollback,
        )


def play_flag(play: Play, key: str) -> bool | None:
    """A boolean rollout key, a template rendered with the play's variables, converted as
    Ansible's `boolean()` does."""
    return flag(play.rollout.get(key), play.vars, key, play.where_of(key))


def percentage(value: Any, where: dict) -> float | None:
    """`max_fail_percentage`: a number, or a string such as "30" or "30%" (as Ansible reads
    its percent fields)."""
    if value is None:
        return None
    try:
        number = coerce.number(value.strip().removesuffix("%") if isinstance(value, str)
                               else value)
    except coerce.ConversionError:
        raise InputError(f"max_fail_percentage: {value!r} is not a percentage", **where) from None
    if not 0 <= number <= 100:
        raise InputError(f"max_fail_percentage: {value!r} is not between 0 and 100", **where)
    return number


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
    """What `orc plan` shows: each play's waves, as the rollout would cut them."""
    return [(play.name, plan_waves(play.name, inventory.select(play.hosts, limit),
                                   Policy.of(play).serial, list(Policy.of(play).canary),
                                   play.location))
            for play in book.plays]


def _variables_for(play: Play, inventory: Inventory) -> Callable[[str], Variables]:
    def variables(host: str) -> Variables:
        host_vars = inventory.host_vars(host)
        return Variables({**host_vars, **play.vars, "inventory_hostname": host,
                          "ansible_host": host_vars.get("ansible_host", host)})
    return variables


def _command_runner(inventory: Inventory) -> Callable[[str, str, float], tuple[bool, str]]:
    def run(host: str, command: str, timeout: float) -> tuple[bool, str]:
        result = run_command(target_for(inventory, host), command, timeout)
        if result.exit_code is None:
            return False, f"`{command}`: {result.error}"
        output = (result.stdout + result.stderr).strip().splitlines()
        return result.ok, f"`{command}`: exit {result.exit_code}" + (
            f" ({output[-1]})" if output else "")
    return run


def unhealthy(health: dict[str, list[CheckResult]]) -> dict[str, str]:
    """Each host with a failed check, and the first failure's detail."""
    return {host: next(r.detail for r in results if not r.ok)
            for host, results in health.items() if any(not r.ok for r in results)}


def unhealthy_unlike_before(health: dict[str, list[CheckResult]],
                            before: dict[str, bool]) -> dict[str, str]:
    """`unhealthy(health)` but for the hosts that were unhealthy before the run too (a
    rollback restores the state before the run, health included); a host whose health
    before is unknown is expected healthy."""
    return {h: why for h, why in unhealthy(health).items() if before.get(h, True)}


def health_before(waves: list[WaveReport] | list[dict[str, Any]]) -> dict[int, dict[str, bool]]:
    """Per play index, each host's health before the run first changed it (its first wave)."""
    found: dict[int, dict[str, bool]] = {}
    for wave in waves:
        data = wave if isinstance(wave, dict) else asdict(wave)
        for host, ok in (data.get("health_before") or {}).items():
            found.setdefault(data["play_index"], {}).setdefault(host, ok)
    return found


def check_play_health(play: Play, inventory: Inventory, hosts: list[str]
                      ) -> dict[str, list[CheckResult]]:
    """The play's health checks (with their retries) on `hosts`, e.g. after a rollback."""
    checks = list(Policy.of(play).health)
    if not checks or not hosts:
        return {}
    return check_hosts(checks, hosts, _variables_for(play, inventory),
                       _command_runner(inventory))


def wave_health_before(play: Play, policy: Policy, inventory: Inventory, wave: Wave
                       ) -> dict[str, bool]:
    """Each of the wave's hosts: whether the play's health checks pass before it is changed
    (empty without checks)."""
    if not policy.health:
        return {}
    before = check_hosts(list(policy.health), list(wave.hosts), _variables_for(play, inventory),
                         _command_runner(inventory))
    return {h: h not in unhealthy({h: rs}) for h, rs in before.items()}


def run_wave(play: Play, play_index: int, wave: Wave, policy: Policy, inventory: Inventory,
             options: RunOptions, emit: Listener, health_before: dict[str, bool] | None = None,
             memory: dict[str, Any] | None = None
             ) -> WaveReport:
    """Apply one wave, gate it on health and bake it; `health_before` is the hosts' health
    before the run changed them (`wave_health_before`), kept in the report for a rollback."""
    report = WaveReport(play.name, play_index, wave.index, list(wave.hosts), started=time.time())
    emit(WaveStarted(play.name, wave.index, tuple(wave.hosts)))
    variables, runner = _variables_for(play, inventory), _command_runner(inventory)
    report.health_before = dict(health_before or {})
    report.apply = run_play(play, inventory, list(wave.hosts), options, emit, memory)
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
            again = check_hosts([HealthCheck(**{**asdict(c), "retries": 0})
                                 for c in policy.health], baking, variables, runner)
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
                run: Run, *, pause_after_wave: int | None = None,
                on_event: Listener | None = None) -> RolloutReport:
    """Run (or continue) `run` from its recorded position to the end, a pause or a halt."""
    emit = _indexing(on_event or ignore, store, run.id)
    options = replace(options, run_id=run.id)
    report = RolloutReport(run.id, str(book.path))
    recorded = store.waves(run.id)
    report.waves = [_wave_from_dict(w) for w in recorded if w["status"] != RUNNING]
    # a wave a killed process began keeps the health its hosts had before it changed them
    baselines = {(w["play_index"], w["index"]): w.get("health_before") or {} for w in recorded}
    start_play, start_wave = run.position["play"], run.position["wave"]
    failed_hosts: set[str] = {h for w in report.waves for h in w.failed_hosts}
    policies = [Policy.of(play) for play in book.plays]  # every play's, before any host
    memory: dict[str, Any] = {}  # each host's facts, from play to play (as in Ansible)
    for play_index, play in enumerate(book.plays):
        if play_index < start_play:
            continue
        policy = policies[play_index]
        names = [h for h in inventory.select(play.hosts, options.limit) if h not in failed_hosts]
        waves = plan_waves(play.name, names, policy.serial, list(policy.canary), play.location)
        first = start_wave if play_index == start_play else 0
        pending = [h for w in waves[first:] for h in w.hosts]
        if first:  # resumed: a killed process of this run may still hold hosts it is done with
            done = [h for h in inventory.select(play.hosts, options.limit) if h not in pending]
            hostlock.HostLocks(inventory, run.id, done).release()
        # the play's host locks are taken once, in parallel, and held until it ends or stops
        locked = hostlock.acquire(inventory, pending, run.id, store)
        try:
            for wave in waves[first:]:
                before = dict(baselines.get((play_index, wave.index)) or {})
                missing = tuple(h for h in wave.hosts if h not in before)
                if missing:
                    before |= wave_health_before(play, policy, inventory,
                                                 Wave(wave.index, missing))
                store.record_wave(run.id, play_index, wave.index, list(wave.hosts), RUNNING,
                                  time.time(), None, asdict(WaveReport(
                                      play.name, play_index, wave.index, list(wave.hosts),
                                      health_before=before)))
                wave_report = run_wave(play, play_index, wave, policy, inventory, options, emit,
                                       before, memory)
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
                        report.rollback = _roll_back(report, play, policy, inventory, run.id,
                                                     emit)
                        wave_report.rollback = report.rollback  # kept in the index for reports
                        store.record_wave(run.id, play_index, wave.index, list(wave.hosts),
                                          wave_report.status, wave_report.started,
                                          wave_report.finished, asdict(wave_report))
                        if policy.rollback == "auto" and report.rollback["ok"]:
                            return _finish(report, store, ROLLED_BACK, position, emit)
                    return _finish(report, store, HALTED, position, emit)
                last = play_index == len(book.plays) - 1 and wave.index == len(waves) - 1
                wants_pause = policy.pause or (pause_after_wave is not None
                                               and wave.index + 1 == pause_after_wave)
                if wants_pause and not last:
                    return _finish(report, store, PAUSED, position, emit)
        finally:
            locked.release()
        start_wave = 0
    status = FAILED if failed_hosts else SUCCEEDED
    return _finish(report, store, status, {"play": len(book.plays), "wave": 0}, emit)


def _roll_back(report: RolloutReport, play: Play, policy: Policy, inventory: Inventory,
               run_id: str, emit: Listener) -> dict[str, Any]:
    """`rollback: wave` restores the failed wave's hosts, `auto` every host of the run, newest
    wave first; then the play's health checks run again on them."""
    from orchestrator.restore import DriftError, rollback

    waves = report.waves[-1:] if policy.rollback == "wave" else list(reversed(report.waves))
    result: dict[str, Any] = {"mode": policy.rollback, "hosts": {}, "health": {}, "ok": True}
    done: set[str] = set()
    for wave in waves:
        hosts = [h for h in wave.hosts if h not in done]
        if not hosts:
            continue
        done |= set(hosts)
        try:
            back = rollback(inventory, run_id, hosts, sudo=bool(play.flag("become")),
                            on_event=emit)
        except DriftError as err:  # hand changes since the wave: left to `orc rollback`
            result["ok"], result["error"] = False, str(err)
            break
        for name, host in back.hosts.items():
            result["hosts"][name] = {
                "restored": sum(i.status == "restored" for i in host.items),
                "irreversible": [i.key for i in host.irreversible],
                "failed": [f"{i.key}: {i.detail}" for i in host.items if i.status == "failed"],
                "handlers": host.handlers, "error": host.error,
            }
        result["ok"] = result["ok"] and not back.failed
    if policy.health and done:
        emit(HealthChecking(-1, tuple(sorted(done))))
        health = check_play_health(play, inventory, sorted(done))
        result["health"] = {h: [asdict(r) for r in rs] for h, rs in health.items()}
        before = health_before(report.waves).get(waves[0].play_index, {})
        result["unhealthy_before"] = sorted(h for h in unhealthy(health) if before.get(h) is False)
        result["ok"] = result["ok"] and not unhealthy_unlike_before(health, before)
    emit(RolledBack(policy.rollback, tuple(sorted(done)), result["ok"]))
    return result


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


def abort(store: RunStore, run_id: str) -> Run:
    run = store.get(run_id)
    if run.status not in (PAUSED, "interrupted"):
        raise InputError(f"run {run.id} is {run.status}: only a paused or interrupted run "
                         "can be aborted")
    store.set_status(run.id, ABORTED)
    return store.get(run.id)


def _wave_from_dict(data: dict[str, Any]) -> WaveReport:
    """A wave recorded by an earlier process, for the report of a resumed run."""
    fields = {k: v for k, v in data.items() if k not in ("apply", "health")}
    return WaveReport(**fields)
