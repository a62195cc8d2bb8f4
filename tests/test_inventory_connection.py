"""Connection settings from inventory variables, and what pyinfra receives from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyinfra.api import Inventory as PyinfraInventory
from pyinfra.api.arguments import all_argument_meta
from pyinfra.connectors.ssh import connector_data_meta

from orchestrator.errors import InventoryError
from orchestrator.inventory import Connection, connection_for, load_inventory
from tests.support.inventory_oracle import INVENTORIES


def inventory_from(tmp_path: Path, text: str):
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    return load_inventory([path])


def test_lab_inventory_gives_strict_key_checked_root_connections() -> None:
    inventory = load_inventory([INVENTORIES / "lab_shape" / "lab.yaml"])
    assert connection_for(inventory, "lab-2") == Connection(
        name="lab-2", hostname="10.77.0.12", port=22, user="root",
        key_file="/var/lib/orc/lab/id_ed25519",
        known_hosts_file="/var/lib/orc/lab/known_hosts", strict_host_key_checking="yes",
    )


def test_known_hosts_and_strictness_are_read_from_ansible_ssh_args(tmp_path) -> None:
    inventory = inventory_from(tmp_path, """
all:
  hosts:
    h1:
      ansible_host: 192.0.2.7
      ansible_port: "2222"
      ansible_ssh_common_args: >-
        -o "UserKnownHostsFile=/etc/orc/known hosts" -oStrictHostKeyChecking=accept-new
      ansible_ssh_extra_args: -o UserKnownHostsFile=/ignored/second/value
""")
    connection = connection_for(inventory, "h1")
    assert (connection.hostname, connection.port) == ("192.0.2.7", 2222)
    assert connection.known_hosts_file == "/etc/orc/known"  # ssh reads a list of files
    assert connection.strict_host_key_checking == "accept-new"


def test_pyinfra_names_are_accepted_and_win_over_ansible_names(tmp_path) -> None:
    inventory = inventory_from(tmp_path, """
all:
  hosts:
    h1:
      ansible_host: 192.0.2.1
      ssh_hostname: 192.0.2.2
      ssh_user: deploy
      ssh_port: 2200
      ssh_key: /keys/deploy
      ansible_host_key_checking: false
""")
    connection = connection_for(inventory, "h1")
    assert (connection.hostname, connection.user, connection.port) == ("192.0.2.2", "deploy", 2200)
    assert connection.key_file == "/keys/deploy"
    assert connection.strict_host_key_checking == "no"


def test_become_maps_to_pyinfra_sudo_arguments(tmp_path) -> None:
    inventory = inventory_from(tmp_path, """
all:
  vars: {ansible_become: "yes", ansible_become_user: postgres}
  hosts:
    h1: {ansible_user: admin}
    h2: {ansible_become_method: su}
    h3: {ansible_become: no}
""")
    assert connection_for(inventory, "h1").pyinfra_data() == {
        "ssh_hostname": "h1", "ssh_port": 22, "ssh_user": "admin",
        "ssh_strict_host_key_checking": "yes", "_sudo": True, "_sudo_user": "postgres",
    }
    assert connection_for(inventory, "h2").pyinfra_data()["_su_user"] == "postgres"
    assert "_sudo" not in connection_for(inventory, "h3").pyinfra_data()


def test_local_connection_is_pyinfras_local_host(tmp_path) -> None:
    inventory = inventory_from(tmp_path, "all: {hosts: {ctl: {ansible_connection: local}}}")
    assert connection_for(inventory, "ctl").pyinfra_host() == ("@local", {})


def test_pyinfra_takes_the_data_as_its_own(tmp_path) -> None:
    inventory = load_inventory([INVENTORIES / "lab_shape" / "lab.yaml"])
    entries = [connection_for(inventory, name).pyinfra_host() for name in inventory.hosts]
    known = set(connector_data_meta) | set(all_argument_meta)
    assert all(set(data) <= known for _, data in entries)
    pyinfra_inventory = PyinfraInventory((entries, {}))
    host = pyinfra_inventory.get_host("lab-3")
    assert host.data.ssh_hostname == "10.77.0.13"
    assert host.data.ssh_known_hosts_file == "/var/lib/orc/lab/known_hosts"
    assert host.data.ssh_strict_host_key_checking == "yes"


@pytest.mark.parametrize("variables, words", [
    ("{ansible_port: ssh}", "ansible_port must be a port number, got 'ssh'"),
    ("{ansible_port: 70000}", "ansible_port must be a port number"),
    ("{ansible_become: maybe}", "ansible_become must be a boolean"),
    ("{ansible_connection: winrm}", "ansible_connection must be ssh or local"),
    ("{ansible_become_method: runas}", "ansible_become_method must be sudo, su or doas"),
    ("{ansible_host: '{{ inventory_hostname }}.lan'}", "ansible_host is a template"),
    ("{ssh_strict_host_key_checking: maybe}", "StrictHostKeyChecking must be one of"),
    ("{ansible_password: !vault '$ANSIBLE_VAULT;1.1;AES256'}", "is vault-encrypted"),
])
def test_unusable_connection_variables_are_errors(tmp_path, variables, words) -> None:
    inventory = inventory_from(tmp_path, f"all: {{hosts: {{h1: {variables}}}}}")
    with pytest.raises(InventoryError) as raised:
        connection_for(inventory, "h1")
    assert words in raised.value.message
    assert "'h1'" in raised.value.message


def test_unknown_host_suggests_the_nearest_name() -> None:
    inventory = load_inventory([INVENTORIES / "lab_shape" / "lab.yaml"])
    with pytest.raises(InventoryError, match="no host named 'lab2'.*did you mean 'lab-2'"):
        connection_for(inventory, "lab2")
