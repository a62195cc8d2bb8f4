"""The shards' results merged into the wave's one `PlayResult`, in the wave's host order; a
host its shard did not report (its worker was lost) fails as unreachable, its state unknown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.cluster.shards import Shard
from orchestrator.engine.results import HostResult, PlayResult

LOST = "cluster worker lost mid-wave: the host's state is unknown"


def merge(play: str, shards: Sequence[Shard], results: Mapping[int, PlayResult],
          ran_on: Mapping[int, str], lost: Mapping[int, str]) -> PlayResult:
    """One `PlayResult` for `shards`: `results[i]` is what shard i returned, `ran_on[i]` the
    worker that ran it, `lost[i]` why shard i returned nothing (a host missing from a result
    is lost as well). `workers` names each host's worker."""
    merged = PlayResult(play)
    for shard in shards:
        result = results.get(shard.index)
        for host in shard.hosts:
            found = result.hosts.get(host) if result is not None else None
            if found is None:
                why = lost.get(shard.index, LOST)
                found = HostResult(host, error=why, unreachable=True)
            merged.hosts[host] = found
            merged.workers[host] = ran_on.get(shard.index, shard.worker)
    return merged
