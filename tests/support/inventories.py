"""Inventories the ad-hoc tests (`orc run`, `orc facts`) write: lab hosts reached in various
ways, some of them broken on purpose, and the reason orc gives for each broken one."""

from __future__ import annotations

from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orchestrator.lab.state import Lab
from tests.support.orc import TEST_LAB


def write_inventory(path: Path, hosts: dict[str, dict], **common: object) -> Path:
    path.write_text(yaml.safe_dump({"all": {"vars": common, "hosts": hosts}}))
    return path


def lab_names(lab_inventory: Path) -> list[str]:
    data = yaml.safe_load(lab_inventory.read_text())
    return list(data["all"]["children"][TEST_LAB]["hosts"])


def broken_hosts(lab: Lab, tmp_path: Path) -> Path:
    """An inventory whose hosts each fail to connect in a different way, plus one good host."""
    first, second = lab.hosts[0], lab.hosts[1]
    keys = {line.split()[0].split(",")[1]: line.split(None, 1)[1]
            for line in lab.known_hosts_path.read_text().splitlines() if line}
    swapped = tmp_path / "swapped_known_hosts"
    swapped.write_text(f"{second.address} {keys[first.name]}")  # second's address, first's key
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    stranger = tmp_path / "stranger_key"
    stranger.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ))
    stranger.chmod(0o600)
    return write_inventory(
        tmp_path / "broken.yaml",
        {
            "good": {"ansible_host": first.address},
            "changed": {"ansible_host": second.address, "ssh_known_hosts_file": str(swapped)},
            "unknown": {"ansible_host": first.address, "ssh_known_hosts_file": str(empty)},
            "stranger": {"ansible_host": first.address,
                         "ansible_ssh_private_key_file": str(stranger)},
            "closed": {"ansible_host": first.address, "ansible_port": 2222},
        },
        ansible_user="root",
        ansible_ssh_private_key_file=str(lab.key_path),
        ssh_known_hosts_file=str(lab.known_hosts_path),
    )


EXPECTED_REASONS = {
    "changed": "host key changed: refusing to connect (known_hosts disagrees)",
    "unknown": "host key unknown: not in known_hosts",
    "stranger": "authentication failed",
    "closed": "unreachable: connection refused",
}


def become_inventory(lab: Lab, path: Path) -> Path:
    """The first lab host, with the inventory asking to become `nobody` there."""
    return write_inventory(
        path, {lab.hosts[0].name: {"ansible_host": lab.hosts[0].address}},
        ansible_user="root", ansible_ssh_private_key_file=str(lab.key_path),
        ssh_known_hosts_file=str(lab.known_hosts_path),
        ansible_become=True, ansible_become_user="nobody",
    )
