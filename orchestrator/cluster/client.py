"""The controller's cluster client: a process of its own (`python -m orchestrator.cluster.client
ADDRESS`) that holds the `distributed.Client` and runs each wave's shards (`wave.ShardedPlays`).

Its own process because the `orc` executable patches the standard library for gevent
(orchestrator/entry.py), and Dask's client, which runs an asyncio loop in a thread of its own,
does not connect under that patching. The controller (`controller.ClusterPlays`) talks to it with
`frames` on its stdin and stdout: it answers ("ready",) or ("error", exc) once connected, then
for each ("play", args) sends ("events", [...]) while the shards run and ("result", play result,
memory) or ("error", exc) at the end. It ends when its stdin closes (the controller ended)."""

from __future__ import annotations

import sys

from orchestrator.cluster import frames
from orchestrator.cluster.lifetime import die_with_parent


def main(address: str) -> int:
    die_with_parent()  # a killed controller's client leaves the cluster, which stops its shards
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the controller's pipe
    from orchestrator.cluster.wave import ShardedPlays
    from orchestrator.errors import OrcError

    try:
        plays = ShardedPlays.connect(address)
    except OrcError as error:
        frames.write(stdout, ("error", error))
        return 1
    frames.write(stdout, ("ready",))
    try:
        while True:
            try:
                message = frames.read(stdin)
            except EOFError:
                return 0
            play, inventory, names, options, memory, vars_files, cwd = message[1]
            try:
                result = plays(play, inventory, names, options,
                               lambda event: frames.write(stdout, ("event", event)),
                               memory, vars_files=vars_files, cwd=cwd)
            except OrcError as error:
                frames.write(stdout, ("error", error))
                continue
            frames.write(stdout, ("result", result, memory))
    finally:
        plays.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
