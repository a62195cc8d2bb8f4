"""Light lab hosts: sshd alone in its own namespaces on an overlay of the base image.

A light host is the same overlay, address and identity as a full one, without systemd: `unshare`
gives it fresh network, mount, UTS, IPC and PID namespaces, a shell mounts its overlay, /proc,
/sys, a small /dev and /run inside them, waits for its veth, sets its address and becomes
`sshd -D` in a chroot. That is a few MB a host instead of about 40, for workloads without
services (files, templates, commands), so one machine holds a thousand.

Every namespace is anonymous and belongs to the host's processes: when PID 1 of its PID namespace
(the sshd) dies, the kernel ends every process in it, drops the mount namespace (so the overlay
and the rest unmount themselves) and the network namespace (so the veth pair goes too). Nothing is
left in the machine's mount table or in `ip netns`; `stop` only has to kill and remove files.

Commands are logged: sshd runs with LogLevel VERBOSE into `sshd.log` beside the host, one
"Starting session" line per command or SFTP session it serves (see `session_count`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from orchestrator.errors import LabError
from orchestrator.lab import sshkeys
from orchestrator.lab.machine import (
    children, host_key_path, install_file, leader_alive, pid_namespace,
)
from orchestrator.lab.state import Lab, LabHost
from orchestrator.lab.system import process_alive, run

# Hosts started together: enough to keep both cores busy, few enough that a thousand never
# fork at once (each start runs about fifteen short commands).
BATCH = 50
READY_TIMEOUT = 60.0
SSHD_LOG = "sshd.log"
UNSHARE_MARKER = b"orc-light-host"
SESSION_MARKER = b"Starting session: "

# Runs as PID 1 of the host's new namespaces, then becomes its sshd. Arguments: overlay root,
# base image, host directory, host name, address/prefix.
INIT = r"""
set -e
root=$1 base=$2 dir=$3 name=$4 address=$5
mount -t overlay overlay -o "lowerdir=$base,upperdir=$dir/upper,workdir=$dir/work" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
mount -t tmpfs -o mode=755,size=1m tmpfs "$root/dev"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r node_name major minor <<EOF
$node
EOF
    mknod -m 666 "$root/dev/$node_name" c "$major" "$minor"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$root/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mkdir -m 755 "$root/run/sshd" "$root/run/lock"
hostname "$name"
ip link set lo up
tries=0
while ! ip link show host0 >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 1000 ]; then echo "no host0 link after 20 s" >&2; exit 1; fi
    sleep 0.02
done
ip addr add "$address" dev host0
ip link set host0 up
# no PAM: its session modules want systemd and logind, which a light host does not run
exec chroot "$root" /usr/sbin/sshd -D -e -o UsePAM=no -o LogLevel=VERBOSE
"""


def veth(host: LabHost) -> str:
    """The host's end on the bridge (its own end, inside its namespace, is `host0`)."""
    return f"vb-{host.machine}"


def sshd_log(lab: Lab, host: LabHost) -> Path:
    return lab.host_dir(host) / SSHD_LOG


def session_count(log: bytes) -> int:
    """Sessions sshd started in this log text: one per command run or SFTP session opened.

    sshd (OpenSSH's session.c, `do_exec`) logs "Starting session: command|subsystem 'sftp'|
    shell|forced-command ... for USER from ADDR port N id M" at LogLevel VERBOSE."""
    return log.count(SESSION_MARKER)


def prepare(lab: Lab, host: LabHost, base: Path, controller_key: sshkeys.KeyPair) -> str:
    """Write the host's identity into its overlay's upper directory; return its public host key.

    Written before the overlay is mounted (it is mounted only inside the host's namespace),
    with each directory's mode taken from the base image so the merged view is unchanged."""
    hdir = lab.host_dir(host)
    upper = hdir / "upper"
    for sub in ("upper", "work", "root"):
        (hdir / sub).mkdir(parents=True, exist_ok=True)
    for rel in ("etc", "etc/ssh", "etc/apt", "etc/apt/apt.conf.d", "root", "root/.ssh"):
        lower = base / rel
        (upper / rel).mkdir(exist_ok=True)
        os.chmod(upper / rel, lower.stat().st_mode & 0o7777 if lower.exists() else 0o700)
    install_file(upper / "etc" / "hostname", f"{host.name}\n".encode())
    install_file(upper / "etc" / "hosts", (
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{host.name}\n::1\tlocalhost ip6-localhost\n"
    ).encode())
    install_file(upper / "etc" / "apt" / "apt.conf.d" / "01orc-proxy",
             f'Acquire::http::Proxy "{lab.proxy_url}";\n'.encode())
    host_key = sshkeys.load_or_create(host_key_path(lab, host), f"root@{host.name}")
    install_file(upper / "etc" / "ssh" / "ssh_host_ed25519_key", host_key.private_openssh, 0o600)
    install_file(upper / "etc" / "ssh" / "ssh_host_ed25519_key.pub",
             host_key.public_line.encode() + b"\n")
    install_file(upper / "root" / ".ssh" / "authorized_keys",
             controller_key.public_line.encode() + b"\n", 0o600)
    return host_key.public_line


def start(lab: Lab, hosts: list[LabHost], base: Path,
          started: Callable[[], None] = lambda: None) -> None:
    """Start `hosts` (prepared, not running) and wait until each one's sshd answers.

    Hosts start BATCH at a time; each batch's veths are made by one `ip -batch`. A host that
    does not come up raises LabError naming it and its log; the hosts already started stay
    recorded (`started` runs once a batch's processes are known: it saves the state), so
    `orc lab down` removes them."""
    for first in range(0, len(hosts), BATCH):
        batch = hosts[first:first + BATCH]
        procs = [_spawn(lab, host, base) for host in batch]
        for host, proc in zip(batch, procs):
            _find_leader(lab, host, proc)
        started()
        _add_veths(lab, batch)
        wait_ready(lab, batch)


def _spawn(lab: Lab, host: LabHost, base: Path) -> subprocess.Popen:
    hdir = lab.host_dir(host)
    with open(sshd_log(lab, host), "ab") as log:
        proc = subprocess.Popen(
            ["unshare", "--net", "--mount", "--uts", "--ipc", "--pid", "--fork",
             "--propagation", "private",
             "sh", "-c", INIT, "orc-light-host", str(lab.host_root(host)), str(base), str(hdir),
             host.name, f"{host.address}/{lab.prefixlen}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    host.pid, host.leader, host.pidns = proc.pid, None, None
    return proc


def _find_leader(lab: Lab, host: LabHost, proc: subprocess.Popen) -> None:
    """The child `unshare --fork` made: PID 1 of the new PID namespace, later the sshd."""
    outer = pid_namespace(proc.pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"{host.name} did not start; see {sshd_log(lab, host)}")
        for child in children(proc.pid):
            namespace = pid_namespace(child)
            if namespace and namespace != outer:
                host.leader, host.pidns = child, namespace
                return
        time.sleep(0.01)
    raise LabError(f"{host.name}: no host process after 10 s")


def _add_veths(lab: Lab, hosts: list[LabHost]) -> None:
    lines = []
    for host in hosts:
        lines.append(f"link add {veth(host)} type veth peer name host0 netns {host.pid}")
        lines.append(f"link set {veth(host)} master {lab.bridge} up")
    # -force: one failing line must not leave the batch's later hosts without a link
    proc = subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True)
    missing = [h.name for h in hosts if not Path("/sys/class/net", veth(h)).exists()]
    if missing:
        detail = proc.stderr.strip().splitlines()
        raise LabError(f"no veth for {', '.join(missing)}: "
                       f"{detail[0] if detail else 'ip -batch said nothing'}")


def wait_ready(lab: Lab, hosts: list[LabHost], timeout: float = READY_TIMEOUT) -> None:
    """Wait until every host's sshd sends its SSH banner, which it does once it has loaded its
    configuration and host key for the connection (OpenSSH re-executes itself per connection)."""
    deadline = time.monotonic() + timeout

    def wait(host: LabHost) -> str | None:
        while time.monotonic() < deadline:
            if not leader_alive(host):
                return f"{host.name} stopped while starting; see {sshd_log(lab, host)}"
            if _banner(host.address).startswith(b"SSH-"):
                return None
            time.sleep(0.05)
        return f"{host.name} did not answer on port 22 within {timeout:.0f} s"

    with ThreadPoolExecutor(max_workers=min(32, len(hosts) or 1)) as pool:
        errors = [e for e in pool.map(wait, hosts) if e]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise LabError(errors[0] + more)


def _banner(address: str) -> bytes:
    try:
        with socket.create_connection((address, 22), timeout=1) as sock:
            sock.settimeout(2)
            return sock.recv(64)
    except OSError:
        return b""


def stop(lab: Lab, hosts: Iterable[LabHost]) -> None:
    """Kill each host and remove every trace: processes, veth, files. Safe on hosts already
    gone. Mounts and namespaces need nothing: they end with the host's last process."""
    hosts = list(hosts)
    for host in hosts:
        if host.leader is None and process_alive(host.pid, UNSHARE_MARKER):
            # started but not yet recorded as running (up failed half-way): find its PID 1
            outer = pid_namespace(host.pid)
            for child in children(host.pid):  # type: ignore[arg-type]
                if pid_namespace(child) not in (None, outer):
                    host.leader, host.pidns = child, pid_namespace(child)
        if leader_alive(host):
            # PID 1 of a PID namespace: its death ends every process in the namespace
            os.kill(host.leader, signal.SIGKILL)  # type: ignore[arg-type]
    deadline = time.monotonic() + 20
    while any(leader_alive(h) for h in hosts) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [h.name for h in hosts if leader_alive(h)]
    if alive:
        raise LabError(f"{alive[0]} did not stop within 20 s after SIGKILL")
    # the kernel frees a dead network namespace (and its veth pair) a moment later; a veth
    # still there would block the name for the next host
    stale = [h for h in hosts if Path("/sys/class/net", veth(h)).exists()]
    if stale:
        subprocess.run(["ip", "-force", "-batch", "-"], capture_output=True, text=True,
                       input="".join(f"link del {veth(h)}\n" for h in stale))
    for host in hosts:
        hdir = lab.host_dir(host)
        if hdir.exists():
            run(["rm", "-rf", "--one-file-system", str(hdir)])
        host.pid = host.leader = host.pidns = None

