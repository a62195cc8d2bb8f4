"""The lab as Vagrant machines (`vagrant/Vagrantfile`): `orc lab up --vagrant` and its network.

`vagrant ssh-config` says how to reach each running machine; orc turns that into the same
Ansible-shaped inventory `orc lab up` writes, with host keys checked strictly. Vagrant itself
never checks host keys, so orc records each machine's key once, when `orc lab up --vagrant`
first meets it (as a first `ssh` would), into a known_hosts beside Vagrant's own state; from
then on a changed key stops that host.

With the lxc provider the machines sit on a bridge orc owns, `orc-vagrant`, with an apt proxy on
it, exactly like a built-in lab's network: a lab named `vagrant` that has no hosts of its own.
The Vagrantfile reads that lab's subnet from its state file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.errors import InputError, LabError, SetupError
from orchestrator.lab import lifecycle, network, proxy
from orchestrator.lab.box import vagrant_env
from orchestrator.lab.state import Lab
from orchestrator.lab.system import require_root, require_tools

# ORC_VAGRANT_NETWORK names it otherwise, so a test's machines never share a user's network
NETWORK_LAB = os.environ.get("ORC_VAGRANT_NETWORK", "vagrant")
GROUP = "vagrant"
HEADER = "# Vagrant lab"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VagrantHost:
    """One machine as `vagrant ssh-config` describes it."""

    name: str
    hostname: str
    port: int
    user: str
    identity_file: str


def parse_ssh_config(text: str) -> list[VagrantHost]:
    """The `Host` blocks of `vagrant ssh-config` output, in order."""
    blocks: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        key, value = key.lower(), value.strip()
        if key == "host":
            blocks.append({"host": value})
        elif blocks and key not in blocks[-1]:  # ssh keeps the first value of a key
            blocks[-1][key] = value.strip('"')
    hosts = []
    for block in blocks:
        missing = [k for k in ("hostname", "user", "identityfile") if k not in block]
        if missing:
            raise LabError(f"`vagrant ssh-config` gave host {block['host']!r} no {missing[0]}")
        hosts.append(VagrantHost(block["host"], block["hostname"], int(block.get("port", 22)),
                                 block["user"], block["identityfile"]))
    return hosts


def _vagrant(directory: Path, *args: str, timeout: float = 600) -> str:
    if shutil.which("vagrant") is None:
        raise SetupError("`vagrant` is not installed: apt-get install vagrant")
    if not (directory / "Vagrantfile").is_file():
        raise InputError(f"no Vagrantfile in {directory}")
    proc = subprocess.run(["vagrant", *args], cwd=directory, capture_output=True, text=True,
                          env=vagrant_env(), timeout=timeout, check=False)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        raise LabError(f"`vagrant {' '.join(args)}` in {directory} failed: "
                       f"{lines[-1].strip() if lines else f'exit code {proc.returncode}'}")
    return proc.stdout


def machine_states(directory: Path) -> dict[str, str]:
    """Each machine's state (running, not_created, stopped, ...) from `vagrant status`."""
    states = {}
    for line in _vagrant(directory, "status", "--machine-readable").splitlines():
        fields = line.split(",")
        if len(fields) >= 4 and fields[2] == "state":
            states[fields[1]] = fields[3]
    return states


def running_hosts(directory: Path, progress: Progress = lambda line: None
                  ) -> list[VagrantHost]:
    """The running machines; the others are left out (`vagrant ssh-config` fails on them)."""
    states = machine_states(directory)
    running = [name for name, state in states.items() if state == "running"]
    if not running:
        raise LabError(f"no running machine in {directory}: run `vagrant up` there first")
    for name, state in states.items():
        if state != "running":
            progress(f"{name} is {state.replace('_', ' ')}: left out")
    return parse_ssh_config(_vagrant(directory, "ssh-config", *running))


def known_hosts_path(directory: Path) -> Path:
    return directory / ".vagrant" / "orc" / "known_hosts"


def scan_host_key(host: VagrantHost, attempts: int = 5) -> list[str]:
    """The host's public keys as known_hosts lines (`[addr]:port` when the port is not 22)."""
    require_tools("ssh-keyscan")
    for _ in range(attempts):
        proc = subprocess.run(
            ["ssh-keyscan", "-T", "5", "-t", "ed25519,ecdsa,rsa", "-p", str(host.port),
             host.hostname], capture_output=True, text=True, timeout=30, check=False)
        lines = [line for line in proc.stdout.splitlines() if line and not line.startswith("#")]
        if lines:
            return lines
        time.sleep(1)
    raise LabError(f"{host.name} ({host.hostname}:{host.port}) did not show an SSH host key")


def record_host_keys(hosts: list[VagrantHost], path: Path) -> None:
    """Learn each machine's key once; a machine already recorded keeps its recorded key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text().splitlines() if path.exists() else []
    for host in hosts:
        pattern = host.hostname if host.port == 22 else f"[{host.hostname}]:{host.port}"
        if not any(line.split(" ", 1)[0] == pattern for line in lines):
            lines += scan_host_key(host)
    path.write_text("\n".join(lines) + "\n")


def _answers(host: VagrantHost, user: str, known_hosts: Path, command: str) -> bool:
    argv = ssh_command(VagrantHost(host.name, host.hostname, host.port, user,
                                   host.identity_file), known_hosts, command)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if "Host key verification failed" in proc.stderr:
        raise LabError(f"{host.name} ({host.hostname}:{host.port}) shows another host key than "
                       f"the one recorded in {known_hosts}: if the machine was made anew, remove "
                       "that file (`orc lab down --vagrant` does) and run this again")
    return proc.returncode == 0


def login(host: VagrantHost, known_hosts: Path) -> tuple[str, bool]:
    """(user, become) for orc: root when the machine lets root in with Vagrant's key (the
    project's Vagrantfile provisions that, so hosts look like the built-in lab's), otherwise
    Vagrant's own user with sudo, as Ansible would use it."""
    require_tools("ssh")
    if _answers(host, "root", known_hosts, "true"):
        return "root", False
    if _answers(host, host.user, known_hosts, "sudo -n true"):
        return host.user, True
    raise LabError(f"{host.name}: neither root nor {host.user} (with sudo) can log in over SSH "
                   f"at {host.hostname}:{host.port} with {host.identity_file}")


def inventory_data(hosts: list[VagrantHost], known_hosts: Path,
                   logins: dict[str, tuple[str, bool]]) -> dict:
    return {
        "all": {
            "vars": {
                "ansible_ssh_common_args": (
                    f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
                ),
                "ansible_python_interpreter": "/usr/bin/python3",
                "ssh_known_hosts_file": str(known_hosts),
                "ssh_strict_host_key_checking": "yes",
            },
            "children": {
                GROUP: {
                    "hosts": {
                        h.name: {
                            "ansible_host": h.hostname,
                            "ansible_port": h.port,
                            "ansible_user": logins[h.name][0],
                            "ansible_become": logins[h.name][1],
                            "ansible_ssh_private_key_file": h.identity_file,
                        }
                        for h in hosts
                    },
                },
            },
        }
    }


def write_inventory(hosts: list[VagrantHost], directory: Path, known_hosts: Path,
                    path: Path, logins: dict[str, tuple[str, bool]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"{HEADER} in {directory}: written by `orc lab up --vagrant` from "
              "`vagrant ssh-config`.\n")
    data = inventory_data(hosts, known_hosts, logins)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False))
    return path


def up(directory: Path, inventory_path: Path, progress: Progress = lambda line: None
       ) -> list[VagrantHost]:
    """Write the inventory of the machines running in `directory` (after `vagrant up`)."""
    directory = directory.resolve()
    hosts = running_hosts(directory, progress)
    lab = Lab.load(NETWORK_LAB)
    if lab is not None and network.bridge_exists(lab.bridge):
        lab.proxy_pid = proxy.start(lab)  # after a reboot the bridge may be back, not the proxy
        lab.save()
    known_hosts = known_hosts_path(directory)
    record_host_keys(hosts, known_hosts)
    logins = {}
    for host in hosts:
        logins[host.name] = login(host, known_hosts)
        user, become = logins[host.name]
        progress(f"{host.name}: {user}@{host.hostname}:{host.port}"
                 + (" (sudo)" if become else ""))
    write_inventory(hosts, directory, known_hosts, inventory_path, logins)
    return hosts


def ensure_network(progress: Progress = lambda line: None) -> Lab:
    """The bridge `orc-vagrant` and its apt proxy, for machines of the lxc provider."""
    require_root("preparing the Vagrant lab's network")
    require_tools("ip", "apt-cacher-ng")
    with lifecycle.locked(NETWORK_LAB):
        lab = lifecycle.claim_network(NETWORK_LAB)
        if lab.hosts:
            raise LabError(f"lab {NETWORK_LAB!r} has hosts of its own: it is not the "
                           "Vagrant lab's network; remove it with `orc lab down --name "
                           f"{NETWORK_LAB}`")
        lab.proxy_pid = proxy.start(lab)
        lab.save()
    progress(f"network {lab.bridge} ({lab.subnet}), apt proxy {lab.proxy_url}")
    return lab


def down(directory: Path, inventory_path: Path | None, progress: Progress = lambda line: None
         ) -> None:
    """Destroy the machines, then what orc made for them (inventory, known_hosts, network)."""
    directory = directory.resolve()
    # only machines that exist: for the others Vagrant would ask its default provider
    created = [name for name, state in machine_states(directory).items()
               if state != "not_created"]
    if created:
        progress(f"vagrant destroy -f {' '.join(created)} in {directory}")
        _vagrant(directory, "destroy", "-f", *created)
    known_hosts_path(directory).unlink(missing_ok=True)
    if inventory_path is not None and inventory_path.exists() \
            and inventory_path.read_text().startswith(HEADER):
        inventory_path.unlink()
    if Lab.load(NETWORK_LAB) is not None:
        lifecycle.down(NETWORK_LAB, progress)


def ssh_command(host: VagrantHost, known_hosts: Path, command: str) -> list[str]:
    """An ssh command line to a machine with its key and host key checked (for tests, docs)."""
    return ["ssh", "-i", host.identity_file, "-p", str(host.port),
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            f"{host.user}@{host.hostname}", command]

