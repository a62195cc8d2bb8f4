"""The files a lab hands to the rest of orc (and to Ansible): an inventory and a known_hosts.

The inventory names the known_hosts file in both dialects (Ansible's ssh args, pyinfra's
`ssh_known_hosts_file`), so `orc`, `ansible` and plain pyinfra all check the lab's host keys.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestrator.lab.sshkeys import key_type_and_body
from orchestrator.lab.state import Lab


def write_known_hosts(lab: Lab, host_keys: dict[str, str]) -> None:
    """The lab's known_hosts (every host, for the inventory) and one file per host beside it.

    The lab's own SSH (status, exec, ssh) reads the host's file: paramiko's `HostKeys.load`
    compares each line with every line before it, so loading a 1,000-line file for each of
    1,000 connections costs minutes of CPU."""
    lines = {
        host.name: f"{host.address},{host.name} {key_type_and_body(host_keys[host.name])}\n"
        for host in lab.hosts
        if host.name in host_keys
    }
    lab.known_hosts_path.write_text("".join(lines.values()))
    for host in lab.hosts:
        if host.name in lines and lab.host_dir(host).is_dir():
            lab.host_known_hosts_path(host).write_text(lines[host.name])


def inventory_data(lab: Lab) -> dict:
    known_hosts = str(lab.known_hosts_path)
    return {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(lab.key_path),
                "ansible_ssh_common_args": (
                    f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
                ),
                "ansible_python_interpreter": "/usr/bin/python3",
                "ssh_known_hosts_file": known_hosts,
                "ssh_strict_host_key_checking": "yes",
            },
            "children": {
                lab.name: {
                    "hosts": {h.name: {"ansible_host": h.address} for h in lab.hosts},
                },
            },
        }
    }


def write_inventory(lab: Lab, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    what = ("light hosts (sshd alone in its own namespaces)" if lab.light
            else "systemd-nspawn containers")
    header = (
        f"# Lab {lab.name!r}: written by `orc lab up`, removed by `orc lab down`.\n"
        f"# Hosts are {what} on bridge {lab.bridge} ({lab.subnet}).\n"
    )
    path.write_text(header + yaml.safe_dump(inventory_data(lab), sort_keys=False))
    return path
