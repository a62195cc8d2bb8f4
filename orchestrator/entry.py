"""The `orc` executable.

pyinfra talks to hosts from gevent greenlets; like pyinfra's own CLI, the executable patches the
standard library before anything opens a socket, so hosts are connected, inspected and changed in
parallel. Only the executable does this: importing `orchestrator` (as tests and other programs
do) changes nothing in the importing process.
"""

from gevent import monkey

monkey.patch_all()

from orchestrator.cli import main  # noqa: E402

__all__ = ["main"]
