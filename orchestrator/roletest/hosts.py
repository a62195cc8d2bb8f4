"""Create and destroy the hosts of a role test: a lab of its own, with the scenario's names.

The lab is marked as belonging to role tests, so `orc test` may replace a lab it left behind
(`--keep`, or a run that was killed) but never one a user started with `orc lab up`.
The converge inventory names hosts after the scenario's platforms and groups them as it says;
the lab's own names stay behind the addresses.
"""

from __future__ import annotations

import fcntl
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator import lab as lab_api
from orchestrator.errors import InputError
from orchestrator.lab import Lab
from orchestrator.lab.inventory_file import inventory_data
from orchestrator.lab.state import check_name, lab_root
from orchestrator.load import yamlfile
from orchestrator.roletest.scenario import Scenario

DEFAULT_LAB = "roletest"
Progress = Callable[[str], None]
MARKER = "orc-test"


@dataclass(frozen=True)
class TestHosts:
    """The running hosts of one role test, and the files that reach them."""

    lab: Lab
    addresses: dict[str, str]  # platform name -> address
    inventory_path: Path
    ssh_config_path: Path
    control_dir: Path  # ssh's shared connections of verify

    @property
    def names(self) -> list[str]:
        return list(self.addresses)


@contextmanager
def claimed(lab_name: str) -> Iterator[None]:
    """Hold the role test's lab for one run, so a second `orc test` on the same lab fails at
    once instead of replacing hosts the first one is using."""
    check_name(lab_name)
    lab_root().mkdir(parents=True, exist_ok=True)
    with open(lab_root() / f".{lab_name}.roletest.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"lab {lab_name!r} is in use by another `orc test`: wait for it, "
                             "or pass another --lab") from None
        yield


def create(scenario: Scenario, lab_name: str = DEFAULT_LAB,
           progress: Progress = lambda line: None) -> TestHosts:
    """Fresh hosts for the scenario: a lab left by an earlier role test is removed first."""
    check_name(lab_name)
    directory = lab_root() / lab_name
    if Lab.load(lab_name) is not None:
        if not (directory / MARKER).exists():
            raise InputError(f"lab {lab_name!r} was not started by `orc test`; pick another "
                             "--lab, or remove it with `orc lab down --name "
                             f"{lab_name}`")
        progress(f"removing hosts an earlier test of lab {lab_name!r} left")
        lab_api.down(lab_name)
    directory.mkdir(parents=True, exist_ok=True)
    # marked before the first host exists, so a run killed half-way is still ours to clean
    (directory / MARKER).write_text(f"role test {scenario.label}\n")
    lab = lab_api.up(len(scenario.platforms), lab_name, inventory_path=None, progress=progress)
    addresses = {p.name: h.address for p, h in zip(scenario.platforms, lab.hosts)}
    files = lab.dir / "roletest"
    files.mkdir(exist_ok=True)
    # pyinfra keeps a known_hosts file's keys for the life of the process, by path: hosts made
    # anew at the same addresses (the next scenario of `orc test --all`) need a path of their own
    known_hosts = files / f"known_hosts-{secrets.token_hex(4)}"
    shutil.copyfile(lab.known_hosts_path, known_hosts)
    inventory_path = files / "inventory.yaml"
    inventory_path.write_text(_inventory_text(lab, scenario, addresses, known_hosts))
    ssh_config_path = files / "ssh_config"
    control_dir = files / "cm"
    control_dir.mkdir(exist_ok=True)
    ssh_config_path.write_text(_ssh_config(lab, addresses, known_hosts, control_dir))
    return TestHosts(lab, addresses, inventory_path, ssh_config_path, control_dir)


def attach(scenario: Scenario, lab_name: str = DEFAULT_LAB) -> TestHosts:
    """The hosts an earlier `create` left up for this scenario (`orc test --step ...`)."""
    check_name(lab_name)
    lab = Lab.load(lab_name)
    files = lab_root() / lab_name / "roletest"
    if lab is None or not (lab_root() / lab_name / MARKER).exists() \
            or not (files / "inventory.yaml").exists():
        raise InputError(f"no role test hosts in lab {lab_name!r}: run "
                         f"`orc test {scenario.role} --step create --lab {lab_name}` first")
    data = yamlfile.load(files / "inventory.yaml")
    addresses = {name: host["ansible_host"] for name, host in data["all"]["hosts"].items()}
    wanted = [p.name for p in scenario.platforms]
    if list(addresses) != wanted:
        raise InputError(f"lab {lab_name!r} holds hosts {', '.join(addresses)}, not the "
                         f"{', '.join(wanted)} of {scenario.label}: create them again")
    return TestHosts(lab, addresses, files / "inventory.yaml", files / "ssh_config",
                     files / "cm")


def destroy(lab_name: str = DEFAULT_LAB, progress: Progress = lambda line: None) -> bool:
    """Remove the role test's lab; a lab without the role-test mark is never touched."""
    if not (lab_root() / lab_name / MARKER).exists():
        return False
    lab_api.down(lab_name, progress=progress)
    return True


def _inventory_text(lab: Lab, scenario: Scenario, addresses: dict[str, str],
                    known_hosts: Path) -> str:
    """An Ansible-shaped inventory with the lab's connection settings and strict host keys."""
    hosts = {p.name: {"ansible_host": addresses[p.name], **p.vars} for p in scenario.platforms}
    connection = inventory_data(lab)["all"]["vars"]
    connection["ansible_ssh_common_args"] = (f"-o UserKnownHostsFile={known_hosts} "
                                             "-o StrictHostKeyChecking=yes")
    connection["ssh_known_hosts_file"] = str(known_hosts)
    children: dict[str, dict] = {}
    for platform in scenario.platforms:
        for group in platform.groups:
            children.setdefault(group, {"hosts": {}})["hosts"][platform.name] = None
    data = {"all": {"vars": connection, "hosts": hosts}}
    if children:
        data["all"]["children"] = children
    header = f"# Hosts of the role test {scenario.label}, on lab {lab.name!r}.\n"
    return header + yaml.safe_dump(data, sort_keys=False)


def _ssh_config(lab: Lab, addresses: dict[str, str], known_hosts: Path,
                control_dir: Path) -> str:
    """An ssh_config for testinfra's ssh backend: the lab's key, its known_hosts, strictly.

    Connections are shared per host (ControlMaster), so the many commands of a verify run cost
    one handshake a host; verify closes them when it ends. A socket path is limited to 108
    bytes: under a lab root deep enough to pass that, connections are not shared.
    """
    control = f"  ControlPath {control_dir}/%C" if len(str(control_dir)) + 42 < 100 \
        else "  ControlPath none"
    blocks = []
    for name, address in addresses.items():
        blocks.append("\n".join([
            f"Host {name}",
            f"  HostName {address}",
            "  User root",
            f"  IdentityFile {lab.key_path}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {known_hosts}",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  LogLevel ERROR",
            control,
        ]))
    return "\n\n".join(blocks) + "\n"
