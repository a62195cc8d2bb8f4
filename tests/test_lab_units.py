"""The lab's pure parts and its one-line errors, without starting any host."""

from __future__ import annotations

import ipaddress

import paramiko
import pytest

from orchestrator.errors import InputError
from orchestrator.lab import network, sshkeys
from orchestrator.lab.inventory_file import inventory_data
from orchestrator.lab.state import Lab, LabHost, check_count, check_name
from tests.conftest import run_orc


@pytest.mark.parametrize("name", ["lab", "ci2", "abcdefgh"])
def test_valid_lab_names_fit_interface_names(name: str) -> None:
    assert check_name(name) == name
    assert len(f"vb-{name}200") <= 15 and len(f"orc-{name}") <= 15


@pytest.mark.parametrize("name", ["", "Lab", "1lab", "lab-1", "abcdefghi"])
def test_invalid_lab_names_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="expected 1-8 lowercase"):
        check_name(name)


@pytest.mark.parametrize("count", [0, -1, 201])
def test_host_count_out_of_range_is_refused(count: int) -> None:
    with pytest.raises(InputError, match="out of range"):
        check_count(count)


def test_host_addresses_start_after_the_bridge() -> None:
    lab = Lab("x", "10.213.5.0/24")
    assert lab.bridge_address == "10.213.5.1"
    assert [lab.host_address(i) for i in (1, 2, 200)] == ["10.213.5.11", "10.213.5.12", "10.213.5.210"]


def test_subnet_avoids_networks_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    first = network.pick_subnet("lab", [])
    monkeypatch.setattr(network, "used_networks", lambda: [ipaddress.ip_network(first)])
    second = network.pick_subnet("lab", [])
    assert second != first
    assert ipaddress.ip_network(second).subnet_of(network.POOL)
    assert network.pick_subnet("lab", [second]) not in (first, second)


def test_generated_keys_load_in_paramiko(tmp_path) -> None:
    pair = sshkeys.generate("test")
    path = tmp_path / "id"
    sshkeys.write_private(path, pair)
    assert path.stat().st_mode & 0o777 == 0o600
    key = paramiko.Ed25519Key.from_private_key_file(str(path))
    assert f"{key.get_name()} {key.get_base64()}" == sshkeys.key_type_and_body(pair.public_line)


def test_inventory_has_ansible_shape() -> None:
    lab = Lab("demo", "10.213.9.0/24", hosts=[LabHost("demo1", "10.213.9.11")])
    data = inventory_data(lab)
    assert data["all"]["children"]["demo"]["hosts"] == {"demo1": {"ansible_host": "10.213.9.11"}}
    assert "StrictHostKeyChecking=yes" in data["all"]["vars"]["ansible_ssh_common_args"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["lab", "up", "0"], "error: host count 0 is out of range: expected 1 to 200"),
        (["lab", "up", "1", "--name", "Bad"], "error: lab name 'Bad' is not valid"),
        (["lab", "status", "--name", "nosuch"], "error: no lab named 'nosuch' is up"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    proc = run_orc(*args)
    assert proc.returncode == 1
    assert proc.stderr.startswith(message)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_without_root_lab_up_says_so_in_one_line() -> None:
    proc = run_orc("lab", "up", "1", "--name", "noroot", user=1000)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: orc lab up needs root (containers, mounts and a bridge): run it as root"
    )
