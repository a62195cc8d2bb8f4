"""What a worker runs for one shard: the engine's `run_play` on the shard's hosts, with its own
SSH connections, in the worker's process.

The task carries all the play needs: the play, the inventory, the run's options, the hosts'
facts from earlier plays, and the play's vars_files as the controller verified and decrypted
them (secrets travel in the task: the cluster's comms must be TLS, see the README). Files the
play reads where it runs (roles, templates) are read from the controller's working directory,
which the worker's machine must hold too (the same checkout at the same path).

A shard must never run twice: Dask reruns a task whose worker died on another worker, so the
task first takes the shard's one claim token from a queue the controller filled; a rerun finds
none and runs nothing (`claimed` False)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.cluster.relay import Sender
from orchestrator.engine.options import RunOptions
from orchestrator.engine.results import PlayResult
from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Play
from orchestrator.load.vars_files import VarsFiles, keep_vars_files

# a worker runs one shard at a time (`connection.shard_workers` asks for one thread), and the
# working directory is process-wide: held while a shard runs in it
_CWD = threading.Lock()


@dataclass
class ShardTask:
    play: Play
    inventory: Inventory
    hosts: list[str]
    options: RunOptions
    vars_files: VarsFiles
    cwd: str  # the controller's working directory: relative paths of the play resolve there
    claim: str  # the name of the queue holding this shard's one claim token
    events: str  # the name of the wave's event queue
    memory: dict[str, Any] = field(default_factory=dict)  # engine.hostrun.HostMemory by host


@dataclass
class ShardOutcome:
    worker: str  # the address of the worker that ran it
    claimed: bool  # False: a rerun after the first run's worker was lost, which ran nothing
    result: PlayResult | None = None
    memory: dict[str, Any] = field(default_factory=dict)  # the shard's hosts' facts after it


def run_shard(task: ShardTask) -> ShardOutcome:
    """Run `task` on this worker (called by Dask). An `OrcError` of the play (its input is
    wrong) is raised to the controller, as `run_play` raises it in process."""
    from distributed import Queue, get_worker

    from orchestrator.engine.run import run_play

    worker = get_worker().address
    claim = Queue(task.claim)
    try:
        if not claim.get(batch=True):
            return ShardOutcome(worker, claimed=False)
    finally:
        claim.close()
    if not Path(task.cwd).is_dir():
        result = PlayResult(task.play.name)
        why = (f"cluster worker {worker} has no {task.cwd}: workers run the play from a "
               "checkout at the controller's path")
        from orchestrator.engine.results import HostResult

        result.hosts = {h: HostResult(h, error=why) for h in task.hosts}
        return ShardOutcome(worker, True, result)
    keep_vars_files(task.play, task.vars_files)
    events = Queue(task.events)
    sender = Sender(events)
    memory = dict(task.memory)
    try:
        with _CWD:
            before = os.getcwd()
            os.chdir(task.cwd)
            try:
                result = run_play(task.play, task.inventory, task.hosts, task.options, sender,
                                  memory)
            finally:
                os.chdir(before)
    finally:
        sender.close()
        events.close()
    return ShardOutcome(worker, True, result, {h: memory[h] for h in task.hosts if h in memory})
