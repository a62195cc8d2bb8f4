"""Rolling a run back from the command line: hold its hosts, restore, check health again.

`orchestrator.restore` puts the hosts back from their journals. Around it, a rollback someone
starts by hand needs what a rollout's own rollback already has: the hosts held (the controller's
run index and each host's rollout lock), so no rollout starts beside it, and afterwards the
playbook's health checks, so "rolled back" means the service answers again, not only that the
files are back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import hostlock
from orchestrator.errors import InputError
from orchestrator.events import Listener
from orchestrator.health import CheckResult
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.journal import Drift
from orchestrator.load.playbook import load_playbook
from orchestrator.restore import RollbackReport, rollback
from orchestrator.rollout import (
    check_play_health,
    health_before,
    unhealthy,
    unhealthy_unlike_before,
)
from orchestrator.runs import INTERRUPTED, ROLLED_BACK, Run, RunStore, lock_keys


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


def roll_back(store: RunStore, run_id: str, inventories: list[str] | None = None, *,
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
        locks = hostlock.acquire(inventory, hosts, run_id, store)
        try:
            report = rollback(inventory, run_id, hosts, sudo=sudo, force=force,
                              confirm=confirm, on_event=on_event)
        finally:
            locks.release()
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
