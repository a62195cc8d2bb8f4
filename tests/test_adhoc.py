"""`orc run`: a command on lab hosts over real SSH, answers grouped, failures as rows."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from orchestrator import lab as lab_api
from orchestrator.adhoc import group_outputs
from orchestrator.lab import machine
from orchestrator.lab.state import Lab
from orchestrator.report.hosts import fold_hosts
from orchestrator.transport.remote import CommandResult
from tests.support.inventories import (
    EXPECTED_REASONS,
    become_inventory,
    broken_hosts,
    lab_names,
    write_inventory,
)
from tests.support.orc import TEST_LAB, run_orc


def run_json(*args: str) -> tuple[int, dict]:
    proc = run_orc("run", "--json", *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_identical_answers_collapse_into_one_group_in_first_seen_order() -> None:
    results = [
        CommandResult("web1", 0, "ok\n"),
        CommandResult("web2", 1, "ok\n"),
        CommandResult("web3", 0, "ok\n"),
        CommandResult("db1", None, error="unreachable: timed out"),
    ]
    groups = group_outputs(results)
    assert [(g.hosts, g.exit_code) for g in groups] == [
        (("web1", "web3"), 0), (("web2",), 1), (("db1",), None),
    ]
    assert groups[2].error == "unreachable: timed out"


def test_host_lists_fold_numbered_names_into_ranges() -> None:
    assert fold_hosts(["web1", "web2", "web3", "web5", "db", "web10"]) == "web[1:3], web5, web10, db"
    assert fold_hosts(["node01", "node02", "node9"]) == "node[01:02], node9"
    assert fold_hosts(["solo3"]) == "solo3"


@pytest.mark.lab
def test_hostname_answers_with_each_hosts_own_name(lab: Lab, lab_inventory: Path) -> None:
    code, out = run_json("all", "-i", str(lab_inventory), "--", "hostname")
    names = lab_names(lab_inventory)
    assert code == 0
    assert out["ok"] is True
    assert [(h["host"], h["exit_code"], h["stdout"]) for h in out["hosts"]] == [
        (name, 0, f"{name}\n") for name in names
    ]


@pytest.mark.lab
def test_a_command_failing_on_one_host_shows_exit_codes_per_host(
    lab: Lab, lab_inventory: Path
) -> None:
    names = lab_names(lab_inventory)
    odd = names[1]
    args = ("all", "-i", str(lab_inventory), "--", f"test $(hostname) != {odd}")
    code, out = run_json(*args)
    assert code == 1
    assert {h["host"]: h["exit_code"] for h in out["hosts"]} == {
        name: 1 if name == odd else 0 for name in names
    }
    assert out["counts"] == {"ok": len(names) - 1, "failed": 1, "error": 0}

    table = run_orc("run", *args)
    assert table.returncode == 1
    assert f"{len(names)} hosts: {len(names) - 1} ok, 1 failed" in table.stdout


@pytest.mark.lab
def test_identical_output_is_one_row_listing_its_hosts(lab: Lab, lab_inventory: Path) -> None:
    names = lab_names(lab_inventory)
    code, out = run_json("all", "-i", str(lab_inventory), "--", "echo", "same", "words")
    assert code == 0
    assert out["groups"] == [
        {"hosts": names, "exit_code": 0, "error": None, "stdout": "same words\n", "stderr": ""}
    ]
    table = run_orc("run", "all", "-i", str(lab_inventory), "--", "echo same words").stdout
    assert table.count("same words") == 1
    assert fold_hosts(names) in table


@pytest.mark.lab
def test_become_runs_the_whole_command_as_another_user(lab: Lab, lab_inventory: Path) -> None:
    first = lab_names(lab_inventory)[0]
    code, out = run_json(first, "-i", str(lab_inventory), "--become-user", "nobody",
                         "--", "whoami && id -un")
    assert code == 0
    assert out["hosts"][0]["stdout"] == "nobody\nnobody\n"


@pytest.mark.lab
def test_become_follows_the_inventory_unless_told_otherwise(lab: Lab, tmp_path: Path) -> None:
    inventory = str(become_inventory(lab, tmp_path / "become.yaml"))
    _, out = run_json("all", "-i", inventory, "--", "whoami")
    assert out["hosts"][0]["stdout"] == "nobody\n"
    _, out = run_json("all", "-i", inventory, "--no-become", "--", "whoami")
    assert out["hosts"][0]["stdout"] == "root\n"


@pytest.mark.lab
def test_a_command_running_past_its_timeout_is_cut_off(lab: Lab, lab_inventory: Path) -> None:
    first = lab_names(lab_inventory)[0]
    code, out = run_json(first, "-i", str(lab_inventory), "--command-timeout", "1",
                         "--", "echo started; sleep 30")
    host = out["hosts"][0]
    assert code == 1
    assert host["error"] == "command timed out after 1 s"
    assert host["stdout"] == "started\n"
    assert host["duration"] < 10


@pytest.mark.lab
def test_connection_failures_are_rows_with_a_reason(lab: Lab, tmp_path: Path) -> None:
    inventory = broken_hosts(lab, tmp_path)
    code, out = run_json("all", "-i", str(inventory), "--timeout", "5", "--", "hostname")
    rows = {h["host"]: h for h in out["hosts"]}
    assert code == 1
    assert rows["good"]["stdout"] == f"{lab.hosts[0].name}\n"
    assert {name: rows[name]["error"] for name in EXPECTED_REASONS} == EXPECTED_REASONS
    assert all(rows[name]["exit_code"] is None for name in EXPECTED_REASONS)

    table = run_orc("run", "all", "-i", str(inventory), "--", "hostname")
    assert "Traceback" not in table.stderr
    assert "authentication failed" in table.stdout


@pytest.mark.lab
def test_no_matching_host_is_one_line_error(lab: Lab, lab_inventory: Path) -> None:
    proc = run_orc("run", "nosuchgroup", "-i", str(lab_inventory), "--", "true")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: no host in the inventory matches 'nosuchgroup'"


@pytest.mark.lab
def test_a_local_host_runs_on_this_machine(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "local.yaml", {"here": {"ansible_connection": "local"}})
    code, out = run_json("here", "-i", str(inventory), "--", "hostname")
    assert code == 0
    assert out["hosts"][0]["stdout"] == f"{os.uname().nodename}\n"


@pytest.mark.lab
def test_a_stopped_host_shows_unreachable_within_the_timeout(
    lab: Lab, lab_inventory: Path, ssh
) -> None:
    current = lab_api.load(TEST_LAB)
    victim = next(h for h in current.hosts if h.name == lab_names(lab_inventory)[-1])
    # SIGKILL to nspawn would orphan the container, still answering; power it off instead
    ssh(victim.name, "systemctl poweroff")
    try:
        deadline = time.monotonic() + 20
        while machine.is_running(victim) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not machine.is_running(victim)
        start = time.monotonic()
        code, out = run_json("all", "-i", str(lab_inventory), "--timeout", "3", "--", "true")
        elapsed = time.monotonic() - start
        rows = {h["host"]: h for h in out["hosts"]}
        assert code == 1
        assert rows[victim.name]["error"].startswith("unreachable: ")
        assert rows[victim.name]["duration"] < 3.5
        assert elapsed < 10
        assert all(r["exit_code"] == 0 for name, r in rows.items() if name != victim.name)
    finally:
        lab_api.up(len(current.hosts), TEST_LAB, None)
