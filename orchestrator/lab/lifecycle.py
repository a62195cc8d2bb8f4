"""Bringing a lab up, reading its state and taking it down: the API the `orc lab` CLI calls.

`up` is idempotent (it only starts what is missing) and records each host's pid as soon as it
boots, so a crash half-way leaves a state `down` can always clean up from.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import InputError, LabError
from orchestrator.lab import image, machine, network, proxy, sshkeys
from orchestrator.lab import light as light_host
from orchestrator.lab.inventory_file import write_inventory, write_known_hosts
from orchestrator.lab.state import PREFIXLEN, Lab, LabHost, check_count, check_name, lab_root
from orchestrator.lab.system import (
    ensure_inotify_capacity,
    ensure_neighbour_capacity,
    require_root,
    require_tools,
)
from orchestrator.transport.remote import CommandResult, Target, run_command, run_many

DEFAULT_NAME = "lab"
BOOT_TIMEOUT = 90.0

Progress = Callable[[str], None]


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    state: str  # "running" or "down"
    ssh: str  # "ok" or why not
    system: str  # what `systemctl is-system-running` says, or "-"


def _quiet(line: str) -> None:
    pass


@contextmanager
def locked(name: str) -> Iterator[None]:
    lab_root().mkdir(parents=True, exist_ok=True)
    with open(lab_root() / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(
    count: int = 3,
    name: str = DEFAULT_NAME,
    inventory_path: Path | None = Path("inventory/lab.yaml"),
    progress: Progress = _quiet,
    light: bool = False,
) -> Lab:
    """Start the lab's hosts 1..count that are missing or down; return the lab.

    `light`: hosts run sshd alone (see `light.py`), up to 1,000 on a /22, instead of booting
    systemd; a lab is light or full from its first `up` until its `down`."""
    kind = "light" if light else "full"
    check_name(name)
    check_count(count, kind)
    require_root("orc lab up")
    require_tools("unshare" if light else "systemd-nspawn", "ip", "apt-cacher-ng")
    base = image.ensure(progress)
    if light:
        ensure_neighbour_capacity()
    else:
        ensure_inotify_capacity()
    with locked(name):
        lab = claim_network(name, kind)
        if inventory_path is not None:
            lab.inventory_path = str(inventory_path.resolve())
        lab.proxy_pid = proxy.start(lab)
        lab.save()
        controller_key = sshkeys.load_or_create(lab.key_path, f"orc-lab-{name}")

        to_boot: list[LabHost] = []
        for index in range(1, count + 1):
            host_name = lab.host_name(index)
            host = lab.find(host_name)
            if host is not None and machine.is_running(host):
                continue
            if host is not None:  # stopped or killed from outside: start it afresh
                progress(f"{host_name} is down: recreating it")
                if light:
                    light_host.stop(lab, [host])
                else:
                    machine.stop(lab, host)
            else:
                host = LabHost(host_name, lab.host_address(index))
                lab.hosts.append(host)
            to_boot.append(host)
        lab.hosts.sort(key=lambda h: int(h.name[len(name):]))

        prepare = light_host.prepare if light else machine.prepare
        host_keys = {}
        for host in lab.hosts:
            host_keys[host.name] = prepare(lab, host, base, controller_key) \
                if host in to_boot else _host_public_key(lab, host)
        if light:
            write_known_hosts(lab, host_keys)
            if lab.inventory_path:
                write_inventory(lab, Path(lab.inventory_path))
            progress(f"starting {len(to_boot)} light host(s), {light_host.BATCH} at a time")
            light_host.start(lab, to_boot, base, started=lab.save)
            lab.save()
            if to_boot:
                progress(f"{len(to_boot)} light host(s) answer on port 22")
            return lab
        for host in to_boot:
            progress(f"booting {host.name} ({host.address})")
            machine.boot(lab, host)
            lab.save()
        write_known_hosts(lab, host_keys)
        if lab.inventory_path:
            write_inventory(lab, Path(lab.inventory_path))
        _wait_until_booted(lab, to_boot, progress)
        return lab


def claim_network(name: str, kind: str = "full") -> Lab:
    """The lab's state, its subnet (a /24, or a /22 for light hosts) picked and claimed by its
    bridge (hold `locked(name)`). InputError if the lab exists with the other kind of hosts.

    Picking a free subnet and creating the bridge is one step for all labs at once, so two labs
    coming up together never share a subnet."""
    with locked("subnets"):
        lab = Lab.load(name) or Lab(
            name=name, kind=kind,
            subnet=network.pick_subnet(name, _other_subnets(name), PREFIXLEN[kind]),
        )
        if lab.kind != kind:
            raise InputError(
                f"lab {name!r} has {lab.kind} hosts, not {kind} ones: take it down first "
                f"(orc lab down --name {name})"
            )
        network.ensure_bridge(lab.bridge, lab.bridge_address, lab.prefixlen)
    return lab


def _other_subnets(name: str) -> list[str]:
    taken = []
    if lab_root().exists():
        for path in lab_root().iterdir():
            other = Lab.load(path.name) if path.is_dir() and path.name != name else None
            if other:
                taken.append(other.subnet)
    return taken


def _host_public_key(lab: Lab, host: LabHost) -> str:
    return machine.host_key_path(lab, host).with_suffix(".pub").read_text().strip()


def _wait_until_booted(lab: Lab, hosts: list[LabHost], progress: Progress) -> None:
    """Wait until each host answers over SSH and its systemd has finished booting."""
    deadline = time.monotonic() + BOOT_TIMEOUT

    def wait(host: LabHost) -> CommandResult:
        while True:
            result = run_command(
                target(lab, host), "systemctl is-system-running --wait", timeout=10
            )
            if result.exit_code is not None or time.monotonic() > deadline:
                return result
            if not machine.is_running(host):
                raise LabError(
                    f"{host.name} stopped while booting; see {lab.host_dir(host)}/console.log"
                )
            time.sleep(0.3)

    if not hosts:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        results = list(pool.map(wait, hosts))
    for host, result in zip(hosts, results):
        if result.exit_code is None:
            raise LabError(f"{host.name} did not answer over SSH within "
                           f"{BOOT_TIMEOUT:.0f} s: {result.error}")
        progress(f"{host.name} is up: {result.stdout.strip()}")


def target(lab: Lab, host: LabHost) -> Target:
    return Target(
        name=host.name,
        hostname=host.address,
        user="root",
        key_file=str(lab.key_path),
        known_hosts_file=str(_known_hosts(lab, host)),
    )


def _known_hosts(lab: Lab, host: LabHost) -> Path:
    # the host's own line: a whole lab's file is read per connection (see write_known_hosts)
    own = lab.host_known_hosts_path(host)
    return own if own.exists() else lab.known_hosts_path


def load(name: str = DEFAULT_NAME) -> Lab:
    check_name(name)
    lab = Lab.load(name)
    if lab is None:
        raise LabError(f"no lab named {name!r} is up: start it with `orc lab up`")
    return lab


def status(name: str = DEFAULT_NAME) -> list[HostStatus]:
    lab = load(name)
    running = [h for h in lab.hosts if machine.is_running(h)]
    # a light host runs no system manager: SSH answering is all there is to ask
    answers = run_many(
        [target(lab, h) for h in running],
        "echo sshd only" if lab.light else "systemctl is-system-running", timeout=5,
    )
    rows = []
    for host in lab.hosts:
        answer = answers.get(host.name)
        if answer is None:
            rows.append(HostStatus(host.name, host.address, "down", "no", "-"))
        elif answer.exit_code is None:
            rows.append(HostStatus(host.name, host.address, "running", answer.error or "no", "-"))
        else:
            rows.append(HostStatus(host.name, host.address, "running", "ok",
                                   answer.stdout.strip() or "-"))
    return rows


def execute(
    command: str, name: str = DEFAULT_NAME, hosts: list[str] | None = None, timeout: float = 30
) -> dict[str, CommandResult]:
    lab = load(name)
    chosen = lab.hosts
    if hosts:
        unknown = sorted(set(hosts) - {h.name for h in lab.hosts})
        if unknown:
            raise InputError(f"no host {unknown[0]!r} in lab {name!r}")
        chosen = [h for h in lab.hosts if h.name in hosts]
    return run_many([target(lab, h) for h in chosen], command, timeout=timeout)


def down(name: str = DEFAULT_NAME, progress: Progress = _quiet) -> None:
    """Stop every host and remove everything the lab made. Safe to run twice."""
    check_name(name)
    require_root("orc lab down")
    with locked(name):
        lab = Lab.load(name)
        if lab is None:
            # a lab whose state file was lost may still have its bridge
            network.remove_link(f"orc-{name}")
            return
        if lab.hosts and lab.light:
            light_host.stop(lab, lab.hosts)
            progress(f"stopped {len(lab.hosts)} light host(s)")
        elif lab.hosts:
            with ThreadPoolExecutor(max_workers=min(16, len(lab.hosts))) as pool:
                for host in pool.map(lambda h: (machine.stop(lab, h), h)[1], list(lab.hosts)):
                    progress(f"stopped {host.name}")
        proxy.stop(lab)
        network.remove_link(lab.bridge)
        if lab.inventory_path:
            Path(lab.inventory_path).unlink(missing_ok=True)
        shutil.rmtree(lab.dir)
        progress(f"lab {name!r} removed")


def ssh_argv(host_name: str, name: str = DEFAULT_NAME, command: list[str] | None = None) -> list[str]:
    """The `ssh` command line that logs into a lab host with the lab's key and known_hosts."""
    require_tools("ssh")
    lab = load(name)
    host = lab.find(host_name)
    if host is None:
        raise InputError(
            f"no host {host_name!r} in lab {name!r}: expected one of "
            + ", ".join(h.name for h in lab.hosts)
        )
    return [
        "ssh", "-i", str(lab.key_path),
        "-o", f"UserKnownHostsFile={_known_hosts(lab, host)}",
        "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes",
        f"root@{host.address}", *(command or []),
    ]
