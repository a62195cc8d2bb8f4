"""The lab's pure parts and its one-line errors, without starting any host."""

from __future__ import annotations

import ipaddress
import json

import paramiko
import pytest

from orchestrator.errors import InputError
from orchestrator.lab import light, network, sshkeys
from orchestrator.lab.inventory_file import inventory_data, write_known_hosts
from orchestrator.lab.state import Lab, LabHost, check_count, check_name
from tests.support.orc import run_orc


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


@pytest.mark.parametrize("count", [0, 1001])
def test_light_host_count_out_of_range_is_refused(count: int) -> None:
    with pytest.raises(InputError, match="out of range for light hosts: expected 1 to 1000"):
        check_count(count, "light")


def test_a_light_lab_takes_more_hosts_than_a_full_one() -> None:
    assert check_count(1000, "light") == 1000
    with pytest.raises(InputError, match="expected 1 to 200"):
        check_count(1000)


def test_light_lab_addresses_and_veths_fit_a_22_and_interface_names() -> None:
    lab = Lab("abcdefgh", "10.213.8.0/22", kind="light")
    network_ = ipaddress.ip_network(lab.subnet)
    addresses = [ipaddress.ip_address(lab.host_address(i)) for i in range(1, 1001)]
    assert len(set(addresses)) == 1000
    assert all(a in network_ and a not in (network_.network_address, network_.broadcast_address)
               for a in addresses)
    assert str(addresses[-1]) == "10.213.11.242"
    assert lab.bridge_address not in {str(a) for a in addresses}
    assert len(light.veth(LabHost(lab.host_name(1000), ""))) <= 15


def test_a_light_lab_gets_a_22_clear_of_other_labs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network, "used_networks", lambda: [])
    full = network.pick_subnet("lab", [])
    wide = network.pick_subnet("lab", [full], prefixlen=22)
    assert ipaddress.ip_network(wide).prefixlen == 22
    assert not ipaddress.ip_network(wide).overlaps(ipaddress.ip_network(full))
    assert ipaddress.ip_network(wide).subnet_of(network.POOL)


def test_a_lab_state_without_a_kind_is_a_full_lab(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ORC_LAB_ROOT", str(tmp_path))
    Lab("old", "10.213.9.0/24").save()
    data = json.loads((tmp_path / "old" / "state.json").read_text())
    del data["kind"]  # written before light labs existed
    (tmp_path / "old" / "state.json").write_text(json.dumps(data))
    assert Lab.load("old").kind == "full"
    Lab("new", "10.213.8.0/22", kind="light").save()
    assert Lab.load("new").light


def test_sessions_are_counted_from_sshd_verbose_lines() -> None:
    log = (
        b"Connection from 10.213.8.1 port 5 on 10.213.8.11 port 22 rdomain \"\"\n"
        b"Accepted publickey for root from 10.213.8.1 port 5 ssh2: ED25519 SHA256:x\n"
        b"Starting session: command for root from 10.213.8.1 port 5 id 0\n"
        b"Starting session: subsystem 'sftp' for root from 10.213.8.1 port 5 id 1\n"
        b"Starting session: command for root from 10.213.8.1 port 5 id 2\n"
        b"Close session: user root from 10.213.8.1 port 5 id 0\n"
    )
    assert light.session_count(log) == 3
    assert light.session_count(b"") == 0


def test_light_and_vagrant_exclude_each_other() -> None:
    proc = run_orc("lab", "up", "1", "--light", "--vagrant")
    assert proc.returncode != 0
    assert "--light and --vagrant exclude each other" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_light_host_count_out_of_range_is_one_clear_line() -> None:
    proc = run_orc("lab", "up", "1001", "--light", "--name", "x")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: host count 1001 is out of range for light hosts: expected 1 to 1000"
    )


def test_each_host_gets_its_own_known_hosts_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ORC_LAB_ROOT", str(tmp_path))
    lab = Lab("kh", "10.213.8.0/22", kind="light",
              hosts=[LabHost("kh1", "10.213.8.11"), LabHost("kh2", "10.213.8.12")])
    keys = {}
    for host in lab.hosts:
        lab.host_dir(host).mkdir(parents=True)
        keys[host.name] = sshkeys.generate(f"root@{host.name}").public_line
    write_known_hosts(lab, keys)
    assert len(lab.known_hosts_path.read_text().splitlines()) == 2
    for host in lab.hosts:
        (line,) = lab.host_known_hosts_path(host).read_text().splitlines()
        assert line == f"{host.address},{host.name} {sshkeys.key_type_and_body(keys[host.name])}"
