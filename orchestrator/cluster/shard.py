"""The process a worker starts for one shard (`python -m orchestrator.cluster.shard`): the
engine's `run_play` on the shard's hosts, with gevent's patching of the standard library as the
`orc` executable has it, so the shard's hosts are connected, inspected and changed in parallel
(up to `--forks`), with pyinfra's process-wide state its own.

It reads (play, inventory, hosts, options, memory, vars_files) as one frame on stdin and
answers with ("event", event) frames while the play runs, then ("result", play result, memory)
or ("error", OrcError) (`frames`). It is killed when the worker thread that started it ends
(`lifetime`), so a worker killed mid-wave stops its shard there, and when the controller lets
go of the shard's task (`task`), so a killed controller stops its shards as it stops a run in
one process."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from orchestrator.cluster import frames  # noqa: E402
from orchestrator.cluster.lifetime import die_with_parent  # noqa: E402


def main() -> int:
    die_with_parent()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the worker's pipe
    from orchestrator.engine.run import run_play
    from orchestrator.errors import OrcError
    from orchestrator.load.vars_files import keep_vars_files

    play, inventory, hosts, options, memory, vars_files = frames.read(stdin)
    keep_vars_files(play, vars_files)
    try:
        result = run_play(play, inventory, hosts, options,
                          lambda event: frames.write(stdout, ("event", event)), memory)
    except OrcError as error:
        frames.write(stdout, ("error", error))
        return 1
    frames.write(stdout, ("result", result, {h: memory[h] for h in hosts if h in memory}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
