"""The known_hosts file of a fleet is parsed once per version of the file, not per connection."""

from __future__ import annotations

import os
from pathlib import Path

import paramiko
import pytest

from orchestrator.transport import remote


def _write_fleet(path: Path, count: int) -> list[paramiko.PKey]:
    keys = [paramiko.Ed25519Key.from_private_key_file(str(_key(path.parent, i)))
            for i in range(2)]
    lines = [f"[10.0.{i // 250}.{i % 250 + 1}]:22 {keys[i % 2].get_name()} "
             f"{keys[i % 2].get_base64()}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return keys


def _key(folder: Path, index: int) -> Path:
    target = folder / f"key{index}"
    if not target.exists():
        os.system(f"ssh-keygen -q -t ed25519 -N '' -f {target}")  # noqa: S605 - test key
    return target


def test_a_fleet_file_is_parsed_once_and_each_connection_gets_its_own_copy(tmp_path, monkeypatch):
    known = tmp_path / "known_hosts"
    keys = _write_fleet(known, 300)
    loads = []
    real_load = paramiko.HostKeys.load
    monkeypatch.setattr(paramiko.HostKeys, "load",
                        lambda self, name: (loads.append(name), real_load(self, name))[1])
    remote._parsed_known_hosts.cache_clear()

    first = remote.known_hosts(str(known))
    second = remote.known_hosts(str(known))

    assert loads == [str(known)]
    assert first.check("[10.0.0.1]:22", keys[0]) and first.check("[10.0.1.50]:22", keys[1])
    assert not first.check("[10.0.0.1]:22", keys[1])
    first.add("[10.9.9.9]:22", keys[0].get_name(), keys[0])  # one client learning a key
    assert second.lookup("[10.9.9.9]:22") is None


def test_a_changed_file_is_read_again(tmp_path):
    known = tmp_path / "known_hosts"
    keys = _write_fleet(known, 3)
    remote._parsed_known_hosts.cache_clear()
    assert remote.known_hosts(str(known)).lookup("[10.0.0.4]:22") is None
    with known.open("a") as extra:
        extra.write(f"[10.0.0.4]:22 {keys[0].get_name()} {keys[0].get_base64()}\n")
    assert remote.known_hosts(str(known)).check("[10.0.0.4]:22", keys[0])


@pytest.mark.lab
def test_a_session_reads_a_known_hosts_file_changed_since_the_last_one(lab, lab_inventory,
                                                                       tmp_path) -> None:
    """A long-lived process (the API, a worker) sees a host re-keyed in known_hosts: pyinfra
    keeps each parsed file for the life of the process, and a new session must not."""
    from orchestrator.inventory import load_inventory
    from orchestrator.transport.session import open_session

    host = lab.hosts[0]
    known = tmp_path / "known_hosts"
    known.write_text(Path(lab.known_hosts_path).read_text())
    inventory_file = tmp_path / "inventory.yaml"
    inventory_file.write_text(lab_inventory.read_text().replace(str(lab.known_hosts_path),
                                                                str(known)))
    inventory = load_inventory([inventory_file])

    first = open_session(inventory, [host.name])
    assert host.name in first.hosts, first.unreachable
    first.state.inventory.get_host(host.name).disconnect()

    other = paramiko.Ed25519Key.from_private_key_file(str(_key(tmp_path, 0)))
    known.write_text(f"{host.address},{host.name} {other.get_name()} {other.get_base64()}\n")
    second = open_session(inventory, [host.name])
    assert second.unreachable.get(host.name) == remote.HOST_KEY_CHANGED
