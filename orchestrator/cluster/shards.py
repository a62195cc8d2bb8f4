"""A wave's hosts cut into shards, one per worker.

Contiguous shards in the wave's own order (canaries first, then `rollout.waves.stable_order`, a
hash of play and host name), as even as they can be (sizes differ by one at most), one per
worker and none empty. One per worker: each shard costs a process start on its worker and opens
its own SSH connections (up to `--forks` at once), so fewer, larger shards cost least. Contiguous
in a stable order: a host's shard follows from its place in the wave, so a rerun of the same
wave on the same workers cuts it the same way, and a lost worker's hosts are one run of the
wave's order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based, in the wave's order
    worker: str  # the address of the worker it is sent to
    hosts: tuple[str, ...]


def split(hosts: Sequence[str], workers: Sequence[str]) -> list[Shard]:
    """`hosts` in contiguous shards over `workers` (in the order given); fewer shards than
    workers when there are fewer hosts. Raises ValueError with no workers."""
    if not workers:
        raise ValueError("no workers to split hosts over")
    count = min(len(workers), len(hosts))
    if not count:
        return []
    size, extra = divmod(len(hosts), count)
    shards, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        shards.append(Shard(index, workers[index], tuple(hosts[start:end])))
        start = end
    return shards
