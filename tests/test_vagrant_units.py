"""The Vagrant lab's pure parts: reading `vagrant ssh-config`, the inventory it becomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import LabError
from orchestrator.inventory import connection_for, load_inventory
from orchestrator.lab.vagrant import VagrantHost, parse_ssh_config, write_inventory

SSH_CONFIG = """\
Host lab1
  HostName 10.213.79.11
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile "/home/me/my lab/.vagrant/machines/lab1/virtualbox/private_key"
  IdentitiesOnly yes
  LogLevel FATAL

Host lab2
  HostName 127.0.0.1
  User vagrant
  Port 2200
  IdentityFile /home/me/lab/.vagrant/machines/lab2/virtualbox/private_key
  IdentityFile /home/me/.vagrant.d/insecure_private_key
"""


def test_ssh_config_blocks_become_hosts_with_their_first_values() -> None:
    assert parse_ssh_config(SSH_CONFIG) == [
        VagrantHost("lab1", "10.213.79.11", 22, "vagrant",
                    "/home/me/my lab/.vagrant/machines/lab1/virtualbox/private_key"),
        VagrantHost("lab2", "127.0.0.1", 2200, "vagrant",
                    "/home/me/lab/.vagrant/machines/lab2/virtualbox/private_key"),
    ]


def test_a_host_without_an_address_is_an_error() -> None:
    with pytest.raises(LabError, match="gave host 'lab1' no hostname"):
        parse_ssh_config("Host lab1\n  User vagrant\n  IdentityFile /k\n")


def test_inventory_connects_as_written_with_strict_host_keys(tmp_path: Path) -> None:
    hosts = parse_ssh_config(SSH_CONFIG)
    known = tmp_path / "known_hosts"
    path = write_inventory(hosts, tmp_path, known, tmp_path / "lab.yaml",
                           {"lab1": ("root", False), "lab2": ("vagrant", True)})
    assert path.read_text().startswith("# Vagrant lab in ")
    inventory = load_inventory([str(path)])
    first, second = connection_for(inventory, "lab1"), connection_for(inventory, "lab2")
    assert (first.hostname, first.port, first.user, first.become) == \
        ("10.213.79.11", 22, "root", False)
    assert (second.hostname, second.port, second.user, second.become) == \
        ("127.0.0.1", 2200, "vagrant", True)
    assert first.key_file == hosts[0].identity_file
    assert first.known_hosts_file == str(known)
    assert first.strict_host_key_checking == "yes"
