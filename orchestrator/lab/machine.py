"""One lab host: an overlay on the base image, booted with systemd inside systemd-nspawn.

The host's own files (hostname, address, host key, authorized key, apt proxy) are written into
its overlay before boot, so it comes up reachable and trusted with no step done over the network.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from orchestrator.errors import LabError
from orchestrator.lab import sshkeys
from orchestrator.lab.state import Lab, LabHost
from orchestrator.lab.system import run, terminate

NSPAWN_MARKER = b"systemd-nspawn"


def host_key_path(lab: Lab, host: LabHost) -> Path:
    return lab.host_dir(host) / "ssh_host_ed25519_key"


def prepare(lab: Lab, host: LabHost, base: Path, controller_key: sshkeys.KeyPair) -> str:
    """Mount a fresh overlay for `host` and write its identity; return its public host key."""
    hdir = lab.host_dir(host)
    root = lab.host_root(host)
    for sub in ("upper", "work", "root"):
        (hdir / sub).mkdir(parents=True, exist_ok=True)
    if not os.path.ismount(root):
        run([
            "mount", "-t", "overlay", "overlay", "-o",
            f"lowerdir={base},upperdir={hdir / 'upper'},workdir={hdir / 'work'}", str(root),
        ])
    etc = root / "etc"
    # created afresh (0644), not written over: the base image's /etc/hostname is 0755
    install_file(etc / "hostname", f"{host.name}\n".encode())
    install_file(etc / "hosts", (
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{host.name}\n::1\tlocalhost ip6-localhost\n"
    ).encode())
    install_file(etc / "systemd" / "network" / "10-orc-lab.network", (
        "[Match]\nName=host0\n\n[Network]\n"
        f"Address={host.address}/{lab.prefixlen}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n"
    ).encode())
    install_file(etc / "apt" / "apt.conf.d" / "01orc-proxy",
                  f'Acquire::http::Proxy "{lab.proxy_url}";\n'.encode())
    host_key = sshkeys.load_or_create(host_key_path(lab, host), f"root@{host.name}")
    install_file(etc / "ssh" / "ssh_host_ed25519_key", host_key.private_openssh, 0o600)
    install_file(etc / "ssh" / "ssh_host_ed25519_key.pub", host_key.public_line.encode() + b"\n")
    ssh_dir = root / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    install_file(ssh_dir / "authorized_keys", controller_key.public_line.encode() + b"\n", 0o600)
    return host_key.public_line


def boot(lab: Lab, host: LabHost) -> None:
    """Start the container in the background (it outlives orc); record nspawn's pid and the
    pid of the host's own systemd, which is what really is the host."""
    log = open(lab.host_dir(host) / "console.log", "ab")
    proc = subprocess.Popen(
        [
            "systemd-nspawn", "--boot", "--quiet",
            # this machine's PID 1 is not systemd: no machined to register with, no unit to make
            "--register=no", "--keep-unit",
            f"--machine={host.machine}", f"--directory={lab.host_root(host)}",
            f"--network-bridge={lab.bridge}", "--resolv-conf=off", "--timezone=off",
            "--link-journal=no", "--console=read-only",
        ],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
    )
    host.pid, host.leader, host.pidns = proc.pid, None, None
    outer = pid_namespace(proc.pid)
    deadline = time.monotonic() + 10
    while host.leader is None and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"{host.name} did not start; see {lab.host_dir(host)}/console.log")
        # nspawn forks a short-lived helper first; the host is the child in a new PID namespace
        for child in children(proc.pid):
            namespace = pid_namespace(child)
            if namespace and namespace != outer:
                host.leader, host.pidns = child, namespace
                break
        time.sleep(0.02)
    if host.leader is None:
        raise LabError(f"{host.name}: no container process after 10 s")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def pid_namespace(pid: int | None) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") if pid else None
    except OSError:
        return None


def leader_alive(host: LabHost) -> bool:
    if not host.leader or pid_namespace(host.leader) != host.pidns:
        return False
    try:
        state = Path(f"/proc/{host.leader}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def is_running(host: LabHost) -> bool:
    """The host runs while its systemd does, whether or not nspawn is still around it."""
    return leader_alive(host)


def stop(lab: Lab, host: LabHost) -> None:
    """Shut the host down and remove every trace: processes, mount, veth, files."""
    # SIGTERM to nspawn asks the container's systemd for a clean shutdown
    terminate(host.pid, NSPAWN_MARKER, timeout=15)
    # Killing PID 1 of the host's PID namespace ends every process in it (an nspawn killed
    # from outside leaves its container running without it).
    if leader_alive(host):
        os.kill(host.leader, signal.SIGKILL)  # type: ignore[arg-type]
    deadline = time.monotonic() + 10
    while leader_alive(host) and time.monotonic() < deadline:
        time.sleep(0.05)
    root = lab.host_root(host)
    if os.path.ismount(root):
        if subprocess.run(["umount", str(root)], capture_output=True).returncode != 0:
            run(["umount", "--lazy", str(root)])
    run(["ip", "link", "del", f"vb-{host.machine}"], check=False)
    run(["rm", "-rf", "--one-file-system", str(lab.host_dir(host))])
    host.pid = host.leader = host.pidns = None




def install_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
