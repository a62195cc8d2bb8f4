"""Run the operations added since the last segment, and only those, in pyinfra's order.

A play runs as a sequence of segments: the tasks of every host up to the first one that reads a
result not known yet (a registered variable of a task in the same segment, a handler flush) are
added as pyinfra operations, then run together, as pyinfra's `run_ops` would run a whole deploy.
`run_ops` walks every operation the State holds, so a second segment would run the first one's
again; this walks the new ones, with the same order (pyinfra's `State.get_op_order`, a
topological sort of each host's operation order), the same per-host greenlets on the State's
pool, and the same failure rule (`State.fail_hosts`: a host whose operation failed runs nothing
more). Operation hashes are positions, shared by hosts, so a hash is run only on the hosts that
added it in this segment.

While a segment's operations are added the State is not executing (pyinfra then predicts each
operation's change from facts, which the journal and `orc plan` need); while they run it is.
"""

from __future__ import annotations

from graphlib import TopologicalSorter
from typing import Any

from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operations import run_host_op
from pyinfra.context import ctx_host, ctx_state


def mark(state: Any) -> dict[Any, int]:
    """Where each host's operations stand now: the start of the next segment."""
    return {host: len(host.op_hash_order) for host in state.inventory}


def added(state: Any, start: dict[Any, int]) -> dict[Any, list[str]]:
    """Each host's operations added since `start` (from `mark`), in the host's order."""
    return {host: host.op_hash_order[start.get(host, 0):] for host in state.inventory
            if len(host.op_hash_order) > start.get(host, 0)}


def order(new: dict[Any, list[str]]) -> list[str]:
    """The new operations in one order every host agrees with (as `State.get_op_order`)."""
    sorter: TopologicalSorter = TopologicalSorter()
    for hashes in new.values():
        for i, op_hash in enumerate(hashes):
            if i:
                sorter.add(op_hash, hashes[i - 1])
            else:
                sorter.add(op_hash)
    return list(sorter.static_order())


def _run_on(state: Any, host: Any, op_hash: str) -> bool:
    with ctx_host.use(host):
        return run_host_op(state, host, op_hash)


def run(state: Any, new: dict[Any, list[str]]) -> None:
    """Run `new` (from `added`) on the active hosts. A failed operation fails its host for the
    rest of the segment; the State is left not executing, ready to add the next segment."""
    state.is_executing = True
    try:
        with ctx_state.use(state):
            for op_hash in order(new):
                hosts = [h for h in state.inventory.get_active_hosts()
                         if op_hash in new.get(h, ())]
                if not hosts:
                    continue
                state.trigger_callbacks("operation_start", op_hash)
                jobs = {state.pool.spawn(_run_on, state, host, op_hash): host for host in hosts}
                failed = {host for job, host in jobs.items() if not job.get()}
                try:
                    state.fail_hosts(failed)
                except PyinfraError:
                    pass  # no host left: each one's failure is read from its operations
                state.trigger_callbacks("operation_end", op_hash)
    finally:
        state.is_executing = False
