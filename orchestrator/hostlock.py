"""The host side of the rollout lock: `/var/lib/orc/rollout.lock` on each host names the run
that is changing it, so two controllers never roll out to the same host at once.

The file is created with the shell's noclobber (atomic on the host). A lock left by a run this
controller knows has ended or died is stale and taken over; a lock of any other run refuses,
naming that run.

The SSH connection that took a host's lock stays open until the lock is released, so releasing
costs a command, not another handshake; a connection lost meanwhile is replaced by a new one.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from orchestrator.adhoc import target_for
from orchestrator.inventory import Inventory
from orchestrator.remote import close_connections, run_many
from orchestrator.runs import HOLDING, LockError, RunStore

LOCK = "/var/lib/orc/rollout.lock"


@dataclass
class HostLocks:
    inventory: Inventory
    run_id: str
    hosts: list[str]
    # the connections that took the locks, by host, kept open to release them
    connections: dict[str, Any] = field(default_factory=dict)

    def release(self) -> None:
        try:
            if not self.hosts:
                return
            command = release_command(self.run_id)
            targets = [target_for(self.inventory, h) for h in self.hosts]
            answers = run_many(targets, command, timeout=10, connections=self.connections)
            lost = [t for t in targets if answers[t.name].exit_code is None]
            run_many(lost, command, timeout=10)  # over a new connection (an empty list: none)
        finally:
            close_connections(self.connections)


def release_command(run_id: str) -> str:
    """Shell that removes the host's lock if `run_id` holds it (and succeeds either way)."""
    return f'[ "$(cat {LOCK} 2>/dev/null)" = {shlex.quote(run_id)} ] && rm -f {LOCK}; true'


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
    held = HostLocks(inventory, run_id, [])
    answers = run_many([target_for(inventory, h) for h in hosts], command, timeout=10,
                       connections=held.connections)
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
                 timeout=10, connections=held.connections)
        held.hosts += takeover
    return held
