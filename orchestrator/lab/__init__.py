"""The built-in lab: throwaway Debian hosts on this machine, reached over real SSH: full hosts
boot systemd, light hosts run sshd alone."""

from orchestrator.lab.lifecycle import (
    DEFAULT_NAME,
    HostStatus,
    down,
    execute,
    load,
    ssh_argv,
    status,
    target,
    up,
)
from orchestrator.lab.state import Lab, LabHost

__all__ = [
    "DEFAULT_NAME", "HostStatus", "Lab", "LabHost",
    "down", "execute", "load", "ssh_argv", "status", "target", "up",
]
