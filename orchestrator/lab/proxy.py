"""An apt-cacher-ng bound to the lab's bridge, so roles can install packages on lab hosts.

Hosts have no route out; apt in them talks to this proxy only. The cache directory is shared by
all labs on the machine, so a package is downloaded once however often labs come and go.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from orchestrator.errors import LabError
from orchestrator.lab.state import Lab, cache_root
from orchestrator.lab.system import process_alive, require_tools, terminate

MARKER = b"apt-cacher-ng"

PORT = 3142


def _config(lab: Lab, conf_dir: Path) -> str:
    cache = cache_root() / "apt-cacher-ng"
    cache.mkdir(parents=True, exist_ok=True)
    return "\n".join(
        [
            f"CacheDir: {cache}",
            f"LogDir: {conf_dir / 'log'}",
            "SupportDir: /usr/lib/apt-cacher-ng",
            f"Port: {PORT}",
            f"BindAddress: {lab.bridge_address}",
            f"PidFile: {conf_dir / 'pid'}",
            f"SocketPath: {conf_dir / 'socket'}",
            "ForeGround: 1",
            # the distribution's backend lists do not resolve here; name the mirror directly
            "Remap-debrep: file:deb_mirror*.gz /debian ; http://deb.debian.org/debian/",
            "Remap-secdeb: security.debian.org /debian-security ; "
            "http://deb.debian.org/debian-security/",
            "ExThreshold: 4",
            "",
        ]
    )


def running(lab: Lab) -> bool:
    return process_alive(lab.proxy_pid, MARKER)


def start(lab: Lab) -> int:
    """Start the lab's proxy (if not already up) and return its pid once it accepts connections."""
    if running(lab):
        return lab.proxy_pid  # type: ignore[return-value]
    require_tools("apt-cacher-ng")
    conf_dir = lab.dir / "apt-cacher-ng"
    (conf_dir / "log").mkdir(parents=True, exist_ok=True)
    (conf_dir / "acng.conf").write_text(_config(lab, conf_dir))
    log = open(conf_dir / "log" / "console.log", "ab")
    proc = subprocess.Popen(
        ["apt-cacher-ng", "-c", str(conf_dir)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"apt proxy exited at start (code {proc.returncode}); see {log.name}")
        try:
            with socket.create_connection((lab.bridge_address, PORT), timeout=0.5):
                return proc.pid
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise LabError(f"apt proxy did not listen on {lab.bridge_address}:{PORT} within 10 s")


def stop(lab: Lab) -> None:
    terminate(lab.proxy_pid, MARKER, timeout=5)
    lab.proxy_pid = None
