"""Rolling back a first deploy on real lab hosts: before the deploy its health checks failed (there
was nothing to serve), so after the rollback they fail again and that is the state expected.
A host that was healthy before the run must be healthy again."""

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

DIR = "/etc/orc-first"
PLAYBOOK = f"""\
- name: first
  hosts: all
  serial: 1
  max_fail_percentage: 0
  rollback: ROLLBACK
  health:
    - command: grep -qx good {DIR}/app.conf && test ! -e {DIR}/broken
      retries: 0
  tasks:
    - name: config
      copy:
        dest: {DIR}/app.conf
        content: "{{{{ release }}}}\\n"
        mode: "0644"
"""


@pytest.fixture
def work(lab: Lab, lab_inventory: Path, tmp_path: Path, ssh):
    names = [h.name for h in lab.hosts[:2]]
    for name in names:
        ssh(name, f"rm -rf {DIR}")  # never deployed: the checks fail before the first run
    for mode in ("manual", "auto"):
        (tmp_path / f"{mode}.yaml").write_text(PLAYBOOK.replace("ROLLBACK", mode))
    return {"dir": tmp_path, "names": names, "inventory": lab_inventory}


def orc(work, *args: str):
    return run_orc(*args, "--state-dir", str(work["dir"] / ".orc"))


def words(text: str) -> str:
    return " ".join(text.split())  # rich wraps lines to the terminal's width


def deploy(work, mode: str, release: str, *, expect: int = 0) -> dict:
    out = work["dir"] / "report.json"
    proc = orc(work, "apply", str(work["dir"] / f"{mode}.yaml"), "-i", str(work["inventory"]),
               "--limit", ",".join(work["names"]), "--yes", "--ci", "--json", str(out),
               "-e", f"release={release}")
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return json.loads(out.read_text())


def test_a_rolled_back_first_deploy_is_as_unhealthy_as_before(work, ssh) -> None:
    first = deploy(work, "manual", "good")
    assert all(w["health_before"] == {w["hosts"][0]: False} for w in first["waves"])
    back = orc(work, "rollback", first["run_id"], "--ci")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "2 host(s) failing their checks as they did before the run" in words(back.stdout)
    assert all(ssh(n, f"test -e {DIR}/app.conf").returncode == 1 for n in work["names"])

    # healthy before the run: a rollback that leaves a host unhealthy fails
    deploy(work, "manual", "good")
    second = deploy(work, "manual", "good-too", expect=1)  # the canary fails its check
    assert second["waves"][0]["health_before"] == {second["waves"][0]["hosts"][0]: True}
    canary = second["waves"][0]["hosts"][0]
    ssh(canary, f"touch {DIR}/broken")  # broken by something the run never touched
    broken = orc(work, "rollback", second["run_id"], "--ci")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "1 host(s) unhealthy" in words(broken.stdout)
    ssh(canary, f"rm {DIR}/broken")


def test_an_auto_rollback_of_a_first_deploy_ends_rolled_back(work, ssh) -> None:
    report = deploy(work, "auto", "bad", expect=1)
    assert report["status"] == "rolled-back", report["rollback"]
    assert report["rollback"]["ok"] is True
    assert report["rollback"]["unhealthy_before"] == report["waves"][0]["hosts"]
    assert all(ssh(n, f"test -e {DIR}/app.conf").returncode == 1 for n in work["names"])


def test_a_killed_first_deploy_rolls_back_to_its_health_before(work, ssh) -> None:
    # the health before a wave is kept when the wave starts, not only when it ends
    os.environ[KILL_AFTER] = "1"
    try:
        killed = orc(work, "apply", str(work["dir"] / "manual.yaml"), "-i",
                     str(work["inventory"]), "--limit", ",".join(work["names"]), "--yes",
                     "--ci", "-e", "release=good")
    finally:
        os.environ.pop(KILL_AFTER)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    [run] = json.loads(orc(work, "runs", "--json").stdout)
    assert run["status"] == "interrupted"
    back = orc(work, "rollback", run["id"], "--ci")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "1 host(s) failing their checks as they did before the run" in words(back.stdout)
