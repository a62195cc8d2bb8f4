"""The process a worker starts for one shard (`python -m orchestrator.cluster.shard`): the
engine's `run_play` on the shard's hosts, with gevent's patching of the standard library as the
`orc` executable has it, so the shard's hosts are connected, inspected and changed in parallel
(up to `--forks`), with pyinfra's process-wide state its own.

It reads (play, inventory, hosts, options, memory, vars_files) as one frame on stdin and
answers with ("event", event) frames while the play runs, then ("result", play result, memory)
or ("error", OrcError) (`frames`). It is killed when the worker thread that started it ends
(Linux's PR_SET_PDEATHSIG), so a worker killed mid-wave stops its shard there, as a killed
controller stops its run."""

from gevent import monkey

monkey.patch_all()

import ctypes  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from orchestrator.cluster import frames  # noqa: E402

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the shard ends at its next event instead
        pass


def main() -> int:
    _die_with_parent()
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
