"""A controller killed (SIGKILL) in the second wave of a three-wave rollout: the run index
keeps where it was after each wave, so `orc runs` names the wave to resume at and `orc resume`
never runs a wave that passed again."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from orchestrator.undo.record import KILL_AFTER
from orchestrator.lab import Lab
from tests.support.orc import run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

LOG = "/root/orc-resume-waves.log"
# two operations a host: the first logs that it ran, the second does nothing
PLAYBOOK = f"""\
- name: waves
  hosts: all
  serial: 1
  tasks:
    - name: log the run
      shell: echo ran >> {LOG}
    - name: settle
      shell: "true"
"""


def test_a_run_killed_in_wave_two_resumes_at_wave_two(lab: Lab, lab_inventory: Path, tmp_path,
                                                     ssh, monkeypatch) -> None:
    names = [h.name for h in lab.hosts[:3]]
    for name in names:
        ssh(name, f"rm -f {LOG}")
    (tmp_path / "waves.yaml").write_text(PLAYBOOK)
    state = ["--state-dir", str(tmp_path / ".orc")]
    # killed after the first operation of wave 2: wave 1 ran its two operations
    os.environ[KILL_AFTER] = "3"
    try:
        killed = run_orc("apply", str(tmp_path / "waves.yaml"), "-i", str(lab_inventory),
                         "--limit", ",".join(names), "--yes", "--ci", *state)
    finally:
        os.environ.pop(KILL_AFTER)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    [run] = json.loads(run_orc("runs", "--json", *state).stdout)
    assert run["status"] == "interrupted"
    assert run["position"] == {"play": 0, "wave": 1}
    monkeypatch.setenv("COLUMNS", "200")  # one table row a run
    listed = run_orc("runs", *state)
    assert "play 1 wave 2" in listed.stdout, listed.stdout

    out = tmp_path / "resumed.json"
    resumed = run_orc("resume", run["id"], "--ci", "--json", str(out), *state)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    report = json.loads(out.read_text())
    assert report["status"] == "succeeded"
    first, second, third = (w["hosts"] for w in report["waves"])
    assert sorted(first + second + third) == sorted(names)
    # wave 1 ran once; wave 2 was cut after its first task and ran again whole
    ran = {n: ssh(n, f"cat {LOG}").stdout.count("ran") for n in names}
    assert ran == {first[0]: 1, second[0]: 2, third[0]: 1}
    # the killed process's locks went with the run, on the hosts of the waves that passed too
    assert all(ssh(n, "test -e /var/lib/orc/rollout.lock").returncode == 1 for n in names)
