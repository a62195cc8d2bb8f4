"""The host side of the rollout lock: `/var/lib/orc/rollout.lock` on each host names the run
that is changing it, so two controllers never roll out to the same host at once.

The file is created with the shell's noclobber (atomic on the host). A lock left by a run this
controller knows has ended or died is stale and taken over; a lock of any other run refuses,
naming that run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from orchestrator.adhoc import target_for
from orchestrator.inventory import Inventory
from orchestrator.remote import run_many
from orchestrator.runs import HOLDING, LockError, RunStore

LOCK = "/var/lib/orc/rollout.lock"


@dataclass
class HostLocks:
    inventory: Inventory
    run_id: str
    hosts: list[str]

    def release(self) -> None:
        if not self.hosts:
            return
        run = shlex.quote(self.run_id)
        command = f'[ "$(cat {LOCK} 2>/dev/null)" = {run} ] && rm -f {LOCK}; true'
        run_many([target_for(self.inventory, h) for h in self.hosts], command, timeout=10)


def _holder_is_stale(holder: str, store: RunStore) -> bool:
    try:
        return store.get(holder).status not in HOLDING
    except Exception:  # a run this controller never saw: another controller's, not stale
        return False


def acquire(inventory: Inventory, hosts: list[str], run_id: str, store: RunStore) -> HostLocks:
    run = shlex.quote(run_id)
    command = (f"mkdir -p {LOCK.rsplit('/', 1)[0]} && "
               f"if ( set -C; echo {run} > {LOCK} ) 2>/dev/null; then echo {run}; "
               f"else cat {LOCK}; fi")
    answers = run_many([target_for(inventory, h) for h in hosts], command, timeout=10)
    held = HostLocks(inventory, run_id, [])
    takeover = []
    for host, answer in answers.items():
        if answer.exit_code is None:
            continue  # unreachable: the apply will count it as failed in its wave
        holder = answer.stdout.strip()
        if holder == run_id:
            held.hosts.append(host)
        elif _holder_is_stale(holder, store):
            takeover.append(host)
        else:
            held.release()
            raise LockError(f"{host} is locked by run {holder or '(unreadable lock)'} "
                            f"({LOCK}): another rollout is changing it")
    if takeover:
        run_many([target_for(inventory, h) for h in takeover], f"echo {run} > {LOCK}",
                 timeout=10)
        held.hosts += takeover
    return held
