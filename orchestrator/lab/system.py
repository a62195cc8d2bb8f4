"""The machine the lab runs on: root, the tools it needs, and running them with clear errors."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import LabError, SetupError

# tool -> the Debian package that provides it, so a missing tool names what to install
TOOLS: dict[str, str] = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "apt-cacher-ng": "apt-cacher-ng",
    "ip": "iproute2",
    "mount": "mount",
    "ssh": "openssh-client",
}


def require_root(action: str) -> None:
    if os.geteuid() != 0:
        raise SetupError(f"{action} needs root (containers, mounts and a bridge): run it as root")


def require_tools(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            package = TOOLS.get(tool, tool)
            raise SetupError(f"`{tool}` is not installed: apt-get install {package}")


def run(cmd: Sequence[str], *, check: bool = True, input: str | None = None) -> str:
    """Run a command and return its stdout; a failure becomes a one-line LabError."""
    proc = subprocess.run(
        list(cmd), input=input, capture_output=True, text=True, env=_quiet_env()
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit code {proc.returncode}"
        raise LabError(f"`{' '.join(cmd)}` failed: {last}")
    return proc.stdout


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LC_ALL", "C")
    env["DEBIAN_FRONTEND"] = "noninteractive"
    return env


def process_alive(pid: int | None, marker: bytes) -> bool:
    """True if `pid` runs and its command line holds `marker` (a reused pid is not ours)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return marker in cmdline and state != "Z"


def terminate(pid: int | None, marker: bytes, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: a clean stop when it can be had, a sure one in any case."""
    if not process_alive(pid, marker):
        return
    os.kill(pid, signal.SIGTERM)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid, marker):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]
    except ProcessLookupError:
        pass


# Every systemd inside a lab host takes inotify instances from the machine's per-user budget
# (128 by default); a few labs at once exhaust it and new hosts die at boot.
INOTIFY_LIMITS = {"max_user_instances": 8192, "max_user_watches": 524288}


def ensure_inotify_capacity() -> None:
    for name, wanted in INOTIFY_LIMITS.items():
        path = Path("/proc/sys/fs/inotify") / name
        try:
            if int(path.read_text()) < wanted:
                path.write_text(str(wanted))
        except OSError:
            pass  # not allowed here: hosts still boot while the budget lasts


# The controller keeps an ARP entry per host it talks to; past gc_thresh3 (1024 by default) the
# kernel drops new ones ("neighbour table overflow") and connections to the rest fail.
NEIGHBOUR_LIMITS = {"gc_thresh1": 2048, "gc_thresh2": 8192, "gc_thresh3": 16384}


def ensure_neighbour_capacity() -> None:
    for name, wanted in NEIGHBOUR_LIMITS.items():
        path = Path("/proc/sys/net/ipv4/neigh/default") / name
        try:
            if int(path.read_text()) < wanted:
                path.write_text(str(wanted))
        except OSError:
            pass  # not allowed here: labs of a few hundred hosts still fit the default
