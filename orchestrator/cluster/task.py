"""What a worker runs for one shard: a process of its own (`shard`) running the engine's
`run_play` on the shard's hosts with its own SSH connections, whose events it passes to the
controller (`relay`) as they come.

The task carries all the play needs: the play, the inventory, the run's options, the hosts'
facts from earlier plays, and the play's vars_files as the controller verified and decrypted
them (secrets travel in the task: the cluster's comms must be TLS, see the README). Files the
play reads where it runs (roles, templates) are read from the controller's working directory,
which the worker's machine must hold too (the same checkout at the same path).

A shard must never run twice: Dask reruns a task whose worker died on another worker, so the
task first takes the shard's one claim token from a queue the controller filled; a rerun finds
none and runs nothing (`claimed` False)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from orchestrator.cluster import frames
from orchestrator.cluster.relay import Sender
from orchestrator.engine.options import RunOptions
from orchestrator.engine.results import HostResult, PlayResult
from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Play
from orchestrator.load.vars_files import VarsFiles


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

    worker = get_worker().address
    claim = Queue(task.claim)
    try:
        if not claim.get(batch=True):
            return ShardOutcome(worker, claimed=False)
    finally:
        claim.close()
    events = Queue(task.events)
    sender = Sender(events)
    try:
        return ShardOutcome(worker, True, *_run(task, sender, worker))
    finally:
        sender.close()
        events.close()


def _run(task: ShardTask, emit: Sender, worker: str) -> tuple[PlayResult, dict[str, Any]]:
    """The shard's process, fed the task, its events passed to `emit`: its result and memory."""
    with tempfile.TemporaryFile() as log:
        try:
            process = subprocess.Popen([sys.executable, "-m", "orchestrator.cluster.shard"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=log, cwd=task.cwd)
        except OSError as exc:  # the controller's directory is not on this machine
            return _failed(task, f"cluster worker {worker} cannot run the play in {task.cwd} "
                                 f"({exc.strerror}): workers need the controller's checkout "
                                 "at the same path"), {}
        from distributed import get_worker

        here = get_worker()  # in the task's thread: Dask knows the task there
        threading.Thread(target=_stop_when_let_go, daemon=True,
                         args=(process, here, here.get_current_task())).start()
        with process:
            frames.write(process.stdin, (task.play, task.inventory, task.hosts, task.options,
                                         task.memory, task.vars_files))
            process.stdin.close()
            try:
                while True:
                    message = frames.read(process.stdout)
                    if message[0] == "event":
                        emit(message[1])
                    elif message[0] == "error":
                        raise message[1]
                    else:
                        return message[1], message[2]
            except EOFError:
                process.wait()
                log.seek(0)
                lines = log.read().decode(errors="replace").strip().splitlines()
                last = lines[-1] if lines else f"exit code {process.returncode}"
                return _failed(task, f"the shard's process on cluster worker {worker} ended "
                                     f"mid-wave ({last}): the host's state is unknown",
                               unreachable=True), {}


def _stop_when_let_go(process: subprocess.Popen, worker: Any, key: Any,
                      every: float = 0.5) -> None:
    """Kill the shard's process once nobody waits for its task: the controller's client left
    the cluster (the controller was killed) or cancelled it. Dask cannot stop a running task's
    thread (its worker marks the task cancelled), so the shard's process is killed here, and
    the run stops where it is, as a killed controller stops a run in one process."""
    while process.poll() is None:
        state = worker.state.tasks.get(key)
        if state is None or state.state == "cancelled":
            process.kill()
            return
        time.sleep(every)


def _failed(task: ShardTask, why: str, unreachable: bool = False) -> PlayResult:
    result = PlayResult(task.play.name)
    result.hosts = {h: HostResult(h, error=why, unreachable=unreachable) for h in task.hosts}
    return result
