"""A lab host powered off while a command runs on it: orc reports it unreachable with the
connection error, not the command's last line of output, whether the command was a task of a
rollout or an ad-hoc `orc run`. The host is brought back afterwards (`lab up` recreates it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator import lab as lab_api
from orchestrator.lab import Lab, machine
from orchestrator.transport.remote import CLOSED
from tests.support.orc import ORC, TEST_LAB

pytestmark = [pytest.mark.lab, pytest.mark.slow]

STARTED = "/root/orc-vanish-started"
# what apt prints before it takes a while: the line orc used to report instead
COMMAND = f"echo 'Building dependency tree...'; touch {STARTED}; sleep 60"
PLAYBOOK = f"""\
- name: vanish
  hosts: all
  tasks:
    - name: install
      shell: "{COMMAND}"
"""


def power_off_while_running(lab: Lab, victim: str, ssh, argv: list[str]
                            ) -> subprocess.CompletedProcess:
    """Run orc (`argv`), kill `victim`'s container once the command runs there, bring the
    host back, and return what orc did."""
    ssh(victim, f"rm -f {STARTED}")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while ssh(victim, f"test -e {STARTED}").returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "the command never ran"
            time.sleep(0.2)
        host = next(h for h in lab_api.load(TEST_LAB).hosts if h.name == victim)
        os.kill(host.leader, signal.SIGKILL)  # the container vanishes mid-command
        while machine.is_running(host):
            time.sleep(0.05)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        lab_api.up(len(lab.hosts), TEST_LAB, None)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_a_host_that_vanishes_mid_task_is_unreachable(lab: Lab, lab_inventory: Path,
                                                      tmp_path: Path, ssh) -> None:
    victim = lab.hosts[0].name
    (tmp_path / "vanish.yaml").write_text(PLAYBOOK)
    report = tmp_path / "report.json"
    done = power_off_while_running(lab, victim, ssh, [
        ORC, "apply", str(tmp_path / "vanish.yaml"), "-i", str(lab_inventory), "--limit", victim,
        "--yes", "--ci", "--json", str(report), "--state-dir", str(tmp_path / ".orc")])
    assert done.returncode == 1, done.stdout + done.stderr
    [wave] = json.loads(report.read_text())["waves"]
    host = wave["apply"]["hosts"][victim]
    assert host["unreachable"] is True
    assert host["error"] == CLOSED
    assert [t["error"] for t in host["tasks"]] == [CLOSED]
    assert wave["reason"] == f"1/1 host(s) failed; {victim}: {CLOSED}"
    assert "Building dependency tree" not in done.stdout


def test_a_host_that_vanishes_mid_command_is_unreachable(lab: Lab, lab_inventory: Path,
                                                         ssh) -> None:
    victim = lab.hosts[0].name
    done = power_off_while_running(lab, victim, ssh, [
        ORC, "run", victim, "-i", str(lab_inventory), "--json", "--", COMMAND])
    assert done.returncode == 1, done.stdout + done.stderr
    [row] = json.loads(done.stdout)["hosts"]
    assert row["exit_code"] is None and row["error"] == CLOSED
