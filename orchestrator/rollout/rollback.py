"""Rolling a run back: restore its hosts, then check their health again.

`orchestrator.undo.restore` puts the hosts back from their journals. Around it, two rollbacks:
`roll_back_waves`, a rollout's own when a wave fails under `rollback: wave|auto` (its hosts are
already held by the run), and `roll_back_run`, one someone starts by hand (`orc rollback`), which
first holds the hosts (the controller's run index and each host's rollout lock) so no rollout
starts beside it. Both end with the playbook's health checks, so "rolled back" means the service
answers again, not only that the files are back; a host unhealthy before the run is expected
unhealthy after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import InputError
from orchestrator.events import HealthChecking, Listener, RolledBack
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.undo.drift import Drift
from orchestrator.load.playbook import Play, load_playbook
from orchestrator.errors import DriftError
from orchestrator.undo.restore import RollbackReport
from orchestrator.undo.restore import rollback as restore_rollback
from orchestrator.rollout import locks
from orchestrator.rollout.health import (
    CheckResult,
    check_play_health,
    health_before,
    unhealthy,
    unhealthy_unlike_before,
)
from orchestrator.rollout.store import INTERRUPTED, ROLLED_BACK, Run, RunStore, lock_keys

if TYPE_CHECKING:  # the rollout's report of a wave (run.py imports this module)
    from orchestrator.rollout.run import WaveReport


@dataclass
class RollbackOutcome:
    report: RollbackReport
    health: dict[str, list[CheckResult]] = field(default_factory=dict)
    health_skipped: str | None = None  # why the health checks did not run
    # hosts whose checks failed before the run as they do now: back as they were, not a failure
    unhealthy_before: set[str] = field(default_factory=set)
    failing: dict[str, str] = field(default_factory=dict)  # host -> first failure, per play

    @property
    def unhealthy(self) -> dict[str, str]:
        """Hosts a check fails on that were healthy before the run (or not known)."""
        return self.failing

    @property
    def failed(self) -> bool:
        return self.report.failed or bool(self.unhealthy)


def _find(store: RunStore, run_id: str, inventories: list[str]) -> Run | None:
    try:
        return store.get(run_id)
    except InputError:
        if not inventories:
            raise
        return None  # an empty index: the hosts' journals are enough


def _health(playbook: Path | None, inventory: Inventory, restored: list[str],
            before: dict[int, dict[str, bool]], outcome: RollbackOutcome) -> None:
    """Each play's health checks on its restored hosts, each host expected as it was before
    the run (`before`, per play index: healthy or not; a host not in it, healthy)."""
    if playbook is None or not playbook.is_file():
        outcome.health_skipped = ("no playbook known for this run (pass --playbook)"
                                  if playbook is None else f"{playbook} is gone")
        return
    for index, play in enumerate(load_playbook(playbook).plays):
        hosts = [h for h in inventory.select(play.hosts, None) if h in restored]
        health = check_play_health(play, inventory, hosts)
        for host, results in health.items():
            outcome.health.setdefault(host, []).extend(results)
        expected = before.get(index, {})
        failing = unhealthy_unlike_before(health, expected)
        for host, why in failing.items():
            outcome.failing.setdefault(host, why)
        outcome.unhealthy_before |= {h for h in unhealthy(health) if h not in failing}
    outcome.unhealthy_before -= set(outcome.failing)


def roll_back_run(store: RunStore, run_id: str, inventories: list[str] | None = None, *,
              limit: str | None = None, playbook: Path | None = None, sudo: bool = False,
              force: bool = False, confirm: Callable[[list[Drift]], bool] | None = None,
              on_event: Listener | None = None) -> RollbackOutcome:
    """Restore what `run_id` changed on its hosts (or, unknown to `store`, on every host of
    `inventories` holding its journal), then run its playbook's health checks there.

    Raises `LockError` when a run is working on those hosts and `DriftError` (nothing changed
    yet) when they were changed after the run, unless `force` or `confirm(drift)`."""
    inventories = list(inventories or [])
    run = _find(store, run_id, inventories)
    if run is not None and run.status == ROLLED_BACK and not force:
        raise InputError(f"run {run.id} is already rolled back (--force restores its "
                         "pre-images again)")
    sources = inventories or (run.inventory if run else [])
    playbook = playbook or (Path(run.playbook) if run and run.playbook else None)
    inventory = load_inventory(sources, playbook_dir=playbook.parent if playbook else Path.cwd())
    # a run holds `name@address:port` (older runs: the name)
    hosts = ([h.rpartition("@")[0] or h for h in run.hosts] if run
             else inventory.select("all", None))
    if limit:
        allowed = set(inventory.select("all", limit))
        hosts = [h for h in hosts if h in allowed]
    run_id = run.id if run else run_id
    before = store.hold(run_id, lock_keys(inventory, hosts), str(playbook or ""), sources)
    final = before or INTERRUPTED
    try:
        held = locks.acquire(inventory, hosts, run_id, store)
        try:
            report = restore_rollback(inventory, run_id, hosts, sudo=sudo, force=force,
                                      confirm=confirm, on_event=on_event,
                                      release=locks.release_command)
        finally:
            held.release()
        skipped = {h.skipped for h in report.hosts.values()}
        if report.hosts and None not in skipped:
            raise InputError(f"nothing to roll back of {run_id}: "
                             + "; ".join(sorted(str(s) for s in skipped)))
        outcome = RollbackOutcome(report)
        restored = [n for n, h in report.hosts.items() if h.skipped is None and h.error is None]
        if restored:
            before = health_before(store.waves(run_id)) if run is not None else {}
            _health(playbook, inventory, restored, before, outcome)
        if not report.failed and not limit and restored:
            final = ROLLED_BACK
        return outcome
    finally:
        store.set_status(run_id, final)


def roll_back_waves(waves: list[WaveReport], play: Play, inventory: Inventory, run_id: str,
                    emit: Listener) -> dict[str, Any]:
    """A rollout's own rollback when its last wave (of `play`) failed: `rollback: wave`
    restores that wave's hosts, `auto` every host of the run's `waves`, newest wave first;
    then the play's health checks run again on them, each host expected as healthy as it was
    before the run. A change made on a host since the wave (drift) stops it, left to `orc
    rollback`. Returns what the run's report keeps: mode, per host what was restored, the
    health checks, and `ok`."""
    policy = play.policy
    chosen = waves[-1:] if policy.rollback == "wave" else list(reversed(waves))
    result: dict[str, Any] = {"mode": policy.rollback, "hosts": {}, "health": {}, "ok": True}
    done: set[str] = set()
    for wave in chosen:
        hosts = [h for h in wave.hosts if h not in done]
        if not hosts:
            continue
        done |= set(hosts)
        try:
            back = restore_rollback(inventory, run_id, hosts, sudo=bool(play.flag("become")),
                                    on_event=emit, release=locks.release_command)
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
        before = health_before(waves).get(chosen[0].play_index, {})
        result["unhealthy_before"] = sorted(h for h in unhealthy(health) if before.get(h) is False)
        result["ok"] = result["ok"] and not unhealthy_unlike_before(health, before)
    emit(RolledBack(policy.rollback, tuple(sorted(done)), result["ok"]))
    return result
