"""`orc facts`: pyinfra facts read from lab hosts over real SSH, failures as rows."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from pyinfra.facts.server import Command, Hostname, LinuxDistribution

from orchestrator import facts
from orchestrator.errors import InputError
from orchestrator.inventory import load_inventory
from orchestrator.lab.state import Lab
from tests.support.inventories import (
    EXPECTED_REASONS, become_inventory, broken_hosts, lab_names, write_inventory,
)
from tests.support.orc import run_orc


def facts_json(*args: str) -> tuple[int, dict[str, dict]]:
    proc = run_orc("facts", "--json", *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, {h["host"]: h for h in json.loads(proc.stdout)}


def test_facts_are_named_by_short_name_or_pyinfra_class_path() -> None:
    assert facts.parse_request("os").fact_class is LinuxDistribution
    assert facts.parse_request("pyinfra.facts.server.Hostname").fact_class is Hostname
    request = facts.parse_request("server.Command:command=echo a,b, c")
    assert (request.fact_class, request.kwargs) == (Command, (("command", "echo a,b, c"),))


@pytest.mark.parametrize(("text", "message"), [
    ("memroy", "unknown fact 'memroy'; did you mean 'memory'?"),
    ("server.NoSuchFact", "pyinfra.facts.server has no fact 'NoSuchFact'"),
    ("nosuchmodule.Fact", "pyinfra has no module pyinfra.facts.nosuchmodule"),
    ("server.logger", "pyinfra.facts.server has no fact 'logger'"),
    ("file", "fact 'file' takes path=..."),
    ("file:mode=644", "fact 'file:mode=644' takes path=..."),
    ("os:path=/", "fact 'os:path=/' takes no arguments"),
    ("file:/etc/hosts", "arguments are key=value pairs"),
])
def test_a_wrong_fact_name_or_argument_is_refused_with_a_hint(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("?", r"\?").replace(".", r"\.")):
        facts.parse_request(text)


def test_fact_values_become_json_ready_data() -> None:
    value = {"pkg": {"2.0", "1.0"}, "when": datetime(2024, 5, 1, 12, 0), 3: ("a", None)}
    assert facts.plain(value) == {
        "pkg": ["1.0", "2.0"], "when": "2024-05-01T12:00:00", "3": ["a", None],
    }


@pytest.mark.lab
def test_facts_come_from_each_host(lab: Lab, lab_inventory: Path) -> None:
    code, found = facts_json("all", "-i", str(lab_inventory),
                             "hostname", "os", "memory", "packages", "file:path=/etc/hostname")
    names = lab_names(lab_inventory)
    assert code == 0
    assert list(found) == names
    for name, host in found.items():
        assert host["error"] is None and host["errors"] == {}
        got = host["facts"]
        assert got["hostname"] == name
        assert got["os"]["name"] == "Debian" and got["os"]["major"] == 12
        assert isinstance(got["memory"], int) and got["memory"] > 0
        assert "openssh-server" in got["packages"]
        assert got["file:path=/etc/hostname"]["size"] == len(name) + 1


@pytest.mark.lab
def test_a_failing_fact_is_reported_and_the_next_fact_still_read(
    lab: Lab, lab_inventory: Path
) -> None:
    names = lab_names(lab_inventory)
    requests = [facts.parse_request(text)
                for text in ("server.Command:command=cat /no/such/file", "hostname")]
    found = facts.gather(load_inventory([lab_inventory]), names, requests)
    for name in names:
        host = found[name]
        assert host.errors == {
            requests[0].label: "could not read: cat: /no/such/file: No such file or directory"
        }
        assert host.facts == {"hostname": name}
        assert not host.ok


@pytest.mark.lab
def test_connection_failures_are_rows_with_the_same_reasons_as_run(
    lab: Lab, tmp_path: Path
) -> None:
    inventory = broken_hosts(lab, tmp_path)
    code, found = facts_json("all", "-i", str(inventory), "--timeout", "5", "hostname")
    assert code == 1
    assert found["good"]["facts"] == {"hostname": lab.hosts[0].name}
    assert {name: found[name]["error"] for name in EXPECTED_REASONS} == EXPECTED_REASONS

    table = run_orc("facts", "all", "-i", str(inventory), "hostname")
    assert "Traceback" not in table.stderr
    assert "host key changed" in table.stdout


@pytest.mark.lab
def test_facts_are_read_as_the_user_the_inventory_becomes(lab: Lab, tmp_path: Path) -> None:
    inventory = become_inventory(lab, tmp_path / "become.yaml")
    code, found = facts_json("all", "-i", str(inventory), "server.User", "hostname")
    assert code == 0
    assert found[lab.hosts[0].name]["facts"] == {"server.User": "nobody",
                                                 "hostname": lab.hosts[0].name}


@pytest.mark.lab
def test_a_local_host_is_read_on_this_machine(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "local.yaml", {"here": {"ansible_connection": "local"}})
    code, found = facts_json("here", "-i", str(inventory), "hostname")
    assert code == 0
    assert found["here"]["facts"] == {"hostname": os.uname().nodename}


@pytest.mark.lab
def test_table_shows_one_host_fact_by_fact(lab: Lab, lab_inventory: Path) -> None:
    name = lab_names(lab_inventory)[0]
    proc = run_orc("facts", name, "-i", str(lab_inventory), "os", "packages", "--lines", "3")
    assert proc.returncode == 0, proc.stderr
    assert "Debian GNU/Linux 12 (bookworm)" in proc.stdout
    assert "more" in proc.stdout  # long values are cut to --lines


def test_an_unknown_fact_is_one_line_error(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inv.yaml", {"web1": {}})
    proc = run_orc("facts", "all", "-i", str(inventory), "memroy")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: unknown fact 'memroy'; did you mean 'memory'?")
    assert len(proc.stderr.strip().splitlines()) == 1
