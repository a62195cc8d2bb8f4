"""`orc apply --cluster ADDRESS`: a wave's hosts run on the workers of a Dask distributed cluster.

The controller (the `orc` process) keeps everything that is about the run: the run index, the
host locks, the waves, health checks, bakes, rollbacks and reports. Only the engine's
`run_play` for one wave's hosts moves: the wave is cut into shards, one per worker
(`shards.split`), each worker runs `run_play` on its shard with its own SSH connections
(`task.run_shard`, in a process of its own: `shard`), its events come back while it runs
(`relay`), and the shards' host results are merged into the wave's one `PlayResult` (`merge`).
A worker lost mid-wave fails its hosts as unreachable, their state unknown; its shard never runs
twice (`wave`). The helper processes end with what started them (`lifetime`).

Dask's client runs in a process of the controller's own (`client`, driven by `controller`,
talking in `frames`): the `orc` executable's gevent patching and Dask's event loop thread do
not mix. Dask is imported only there and on the workers, when `--cluster` is given (the
`cluster` extra); `address` and `connection` check and open the connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

PlayRunner = Callable[..., Any]  # engine.run.run_play's signature


@contextmanager
def play_runner(address: str | None) -> Iterator[PlayRunner]:
    """What runs a wave's play: `engine.run.run_play` in this process (`address` None), or
    the cluster at `address`, connected for the block. Raises `ClusterError` (before any host
    is touched) when the cluster cannot be used."""
    if address is None:
        from orchestrator.engine.run import run_play

        yield run_play
        return
    from orchestrator.cluster.controller import ClusterPlays

    plays = ClusterPlays.connect(address)
    try:
        yield plays
    finally:
        plays.close()


def check(address: str) -> None:
    """Raise the `ClusterError` a run on `address` would meet: a bad address, no scheduler
    answering, no worker that can run a shard."""
    from orchestrator.cluster.controller import ClusterPlays

    ClusterPlays.connect(address).close()
