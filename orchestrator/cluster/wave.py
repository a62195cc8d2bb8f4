"""A wave's play on the cluster: `run_play`'s signature, its hosts run by the workers.

Each shard is one Dask task pinned to its worker (`workers=[address]`), never retried
(`retries=0`), never taken from a cache (`pure=False`), and guarded by a claim token so that a
rerun Dask starts elsewhere after losing the worker runs nothing (`task`). While the shards
run, their events are passed on (`relay`) and the scheduler's workers are checked every
`CHECK_EVERY` seconds: a shard whose worker left the cluster (its process killed, its
connection dropped) is given up, and its hosts without a result fail as unreachable, their
state unknown (`merge.LOST`). Their journals are on the hosts, so `orc rollback RUN` and
`orc resume RUN` work as after a killed controller."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import replace
from typing import Any

from orchestrator.cluster.connection import connect, shard_workers
from orchestrator.cluster.merge import LOST, merge
from orchestrator.cluster.relay import receive
from orchestrator.cluster.shards import Shard, split
from orchestrator.cluster.task import ShardOutcome, ShardTask, run_shard
from orchestrator.engine.failures import one_line
from orchestrator.engine.options import RunOptions
from orchestrator.engine.results import PlayResult
from orchestrator.errors import OrcError
from orchestrator.events import HostDone, Listener, PlayStarted, ignore
from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Play
from orchestrator.load.vars_files import VarsFiles, play_vars_files

CHECK_EVERY = 1.0  # seconds between checks that each running shard's worker is still there
WAIT = 0.2  # seconds the controller waits for events before looking at the shards again


class ShardedPlays:
    """Runs a wave's play on the cluster at `address` (a connected `distributed.Client`), in
    the controller's cluster client process (`client`)."""

    def __init__(self, client: Any, address: str):
        self.client = client
        self.address = address

    @classmethod
    def connect(cls, address: str) -> ShardedPlays:
        """Connected, with at least one worker. Raises `ClusterError`."""
        client = connect(address)
        try:
            shard_workers(client, address)
        except Exception:
            client.close()
            raise
        return cls(client, address)

    def close(self) -> None:
        self.client.close()

    def __call__(self, play: Play, inventory: Inventory, names: list[str], options: RunOptions,
                 on_event: Listener | None = None, memory: dict[str, Any] | None = None, *,
                 vars_files: VarsFiles | None = None, cwd: str | None = None) -> PlayResult:
        """`engine.run.run_play` of `play` on `names`, sharded over the workers there are
        now; `memory` (each host's facts from play to play) is read and written as there.
        `vars_files`: the play's, as the controller verified and decrypted them (default: read
        here); `cwd`: where relative paths of the play resolve (default: here)."""
        from distributed import Queue

        emit = on_event or ignore
        if not names:
            return PlayResult(play.name)
        memory = {} if memory is None else memory
        shards = split(names, shard_workers(self.client, self.address))
        vars_files = vars_files or play_vars_files(play)
        emit(PlayStarted(play.name, tuple(names)))
        wave = f"orc-{options.run_id or 'run'}-{uuid.uuid4().hex[:12]}"
        events = Queue(f"{wave}-events", client=self.client)
        claims = [Queue(f"{wave}-claim-{s.index}", client=self.client) for s in shards]
        shipped = _for_workers(options)
        running = {}
        try:
            for shard, claim in zip(shards, claims):
                claim.put("run")
                task = ShardTask(play, inventory, list(shard.hosts), shipped, vars_files,
                                 cwd or os.getcwd(), claim.name, events.name, dict(memory))
                future = self.client.submit(run_shard, task, key=f"{wave}-shard-{shard.index}",
                                            workers=[shard.worker], allow_other_workers=True,
                                            pure=False, retries=0)
                running[future] = shard
            outcomes, lost, errors = self._watch(running, events, emit)
            receive(events, emit)
        finally:
            for queue in (events, *claims):
                queue.close()
        results = {i: o.result for i, o in outcomes.items() if o.result is not None}
        for outcome in outcomes.values():
            memory.update(outcome.memory)
        for index, why in lost.items():
            for host in shards[index].hosts:
                if index not in results or host not in results[index].hosts:
                    emit(HostDone(host, "unreachable", why))
        if errors:  # the play's input is wrong: raised as in process, once every shard ended
            raise errors[0]
        return merge(play.name, shards, results, {i: o.worker for i, o in outcomes.items()},
                     lost)

    def _watch(self, running: dict[Any, Shard], events: Any, emit: Listener
               ) -> tuple[dict[int, ShardOutcome], dict[int, str], list[OrcError]]:
        """Wait for every shard, passing events on; what each shard returned (by index), why
        a shard's hosts are lost, and the input errors the play raised."""
        outcomes: dict[int, ShardOutcome] = {}
        lost: dict[int, str] = {}
        errors: list[OrcError] = []
        checked = time.monotonic()
        while running:
            receive(events, emit, WAIT)
            for future, shard in list(running.items()):
                if not future.done():
                    continue
                del running[future]
                outcome, why, error = _ended(future, shard)
                if outcome is not None:
                    outcomes[shard.index] = outcome
                elif why is not None:
                    lost[shard.index] = why
                if error is not None:
                    errors.append(error)
            if running and time.monotonic() - checked >= CHECK_EVERY:
                checked = time.monotonic()
                present = set(self.client.scheduler_info(n_workers=-1)["workers"])
                for future, shard in list(running.items()):
                    if shard.worker not in present:  # gone: never waited for, never rerun
                        del running[future]
                        future.cancel()
                        lost[shard.index] = LOST
        return outcomes, lost, errors


def _ended(future: Any, shard: Shard) -> tuple[ShardOutcome | None, str | None, OrcError | None]:
    """What a finished shard task says: its outcome, or why its hosts are lost, or the input
    error its play raised."""
    if future.status == "finished":
        try:
            outcome = future.result()
        except Exception:  # noqa: BLE001 - the result was on a worker that left
            return None, LOST, None
        return (outcome, None, None) if outcome.claimed else (None, LOST, None)
    if future.status == "cancelled":
        return None, LOST, None
    error = future.exception()
    if isinstance(error, OrcError):
        return None, f"the play stopped on another shard: {one_line(error)}", error
    name = type(error).__name__
    if name == "KilledWorker":  # Dask gave up after its workers died running it
        return None, LOST, None
    return None, (f"cluster worker {shard.worker} stopped mid-wave ({name}: "
                  f"{one_line(error)}): the host's state is unknown"), None


def _for_workers(options: RunOptions) -> RunOptions:
    """The options a worker runs its shard with: in its own process, not on a cluster."""
    return replace(options, cluster=None)
