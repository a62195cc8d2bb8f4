"""The controller's side of `--cluster`: `run_play`'s signature, carried out by the cluster
client process (`client`), whose events it passes to the run's listeners as they come."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

from orchestrator.cluster import frames
from orchestrator.engine.failures import one_line
from orchestrator.engine.options import RunOptions
from orchestrator.engine.results import HostResult, PlayResult
from orchestrator.errors import ClusterError
from orchestrator.events import HostDone, Listener, ignore
from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Play
from orchestrator.load.vars_files import play_vars_files

CLIENT_LOST = "the cluster client process ended mid-wave: the host's state is unknown"


class ClusterPlays:
    """A wave's play on the cluster at `address`, through a client process of its own."""

    def __init__(self, process: subprocess.Popen, address: str, log: Any):
        self.process = process
        self.address = address
        self.log = log  # the client process's stderr (Dask's own log lines)

    @classmethod
    def connect(cls, address: str) -> ClusterPlays:
        """The client process, connected to a scheduler with workers. Raises `ClusterError`
        (or `SetupError`) as it found them."""
        log = tempfile.TemporaryFile()
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cluster.client", address],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=os.getcwd())
        plays = cls(process, address, log)
        try:
            answer = frames.read(process.stdout)
        except EOFError:
            plays.close()
            raise ClusterError(f"--cluster {address}: the cluster client ended before it "
                               f"connected: {plays.last_log_line()}") from None
        if answer[0] == "error":
            plays.close()
            raise answer[1]
        return plays

    def close(self) -> None:
        """End the client process (it disconnects from the scheduler)."""
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def last_log_line(self) -> str:
        self.log.seek(0)
        lines = [line for line in self.log.read().decode(errors="replace").splitlines()
                 if line.strip()]
        return lines[-1].strip() if lines else f"exit code {self.process.poll()}"

    def __call__(self, play: Play, inventory: Inventory, names: list[str], options: RunOptions,
                 on_event: Listener | None = None, memory: dict[str, Any] | None = None,
                 connections: Mapping[str, Any] | None = None) -> PlayResult:
        """`engine.run.run_play` of `play` on `names`, sharded over the cluster's workers
        (`wave.ShardedPlays`); `memory` is read and written as there. `connections` (the
        controller's, holding the host locks) stay here: an SSH connection cannot travel, and
        each worker opens its shard's own."""
        emit = on_event or ignore
        memory = {} if memory is None else memory
        if not names:
            return PlayResult(play.name)
        vars_files = play_vars_files(play)  # verified and decrypted here, once
        try:
            message = pickle.dumps(("play", (play, inventory, names, options, memory,
                                             vars_files, os.getcwd())))
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ClusterError(f"--cluster {self.address}: play {play.name!r} cannot be sent "
                               f"to the cluster ({one_line(exc)})") from None
        try:
            frames.write_bytes(self.process.stdin, message)
            while True:
                message = frames.read(self.process.stdout)
                if message[0] == "event":
                    emit(message[1])
                elif message[0] == "error":
                    raise message[1]
                else:
                    _, result, memory_after = message
                    memory.update(memory_after)
                    return result
        except (EOFError, BrokenPipeError):
            result = PlayResult(play.name)
            for host in names:
                result.hosts[host] = HostResult(host, error=CLIENT_LOST, unreachable=True)
                emit(HostDone(host, "unreachable", CLIENT_LOST))
            return result
