"""lineinfile, replace and blockinfile on a real lab host: `orc plan` shows exactly the bytes
`orc apply` then writes, `backup` leaves Ansible's timestamped copy, a failing `validate` leaves
the file alone, and `orc rollback` restores an edited file byte for byte."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.books import orc, tasks, work_on
from tests.support.orc import run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

DIR = "/etc/orc-edits"
SSHD = "# sshd\nPort 22\nPermitRootLogin yes\nAcceptEnv LANG LC_*\n"
PLAYBOOK = """\
- name: edits
  hosts: all
  tasks:
    - name: port
      lineinfile:
        path: /etc/orc-edits/sshd_config
        regexp: '^Port\\s+\\d+'
        line: Port 2222
        backup: true
    - name: accept env
      replace:
        path: /etc/orc-edits/sshd_config
        regexp: '^(AcceptEnv) (?P<lang>\\w+) (LC_)'
        replace: '\\1 \\g<lang> TZ \\3'
    - name: block
      blockinfile:
        path: /etc/orc-edits/sshd_config
        block: "Match User backup\\n  X11Forwarding no"
        insertbefore: '^PermitRootLogin'
"""
PORT = """\
- name: port
  hosts: all
  tasks:
    - name: port
      lineinfile:
        path: /etc/orc-edits/sshd_config
        regexp: '^Port\\s+\\d+'
        line: Port 2222
"""
VALIDATED = """\
- name: validated
  hosts: all
  tasks:
    - name: refused by its check
      lineinfile:
        path: /etc/orc-edits/sshd_config
        line: "Bogus yes"
        validate: "grep -q ^Port %s.nothing"
"""


@pytest.fixture(scope="module")
def work(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory):
    return work_on(lab, lab_inventory, tmp_path_factory.mktemp("edits"), edits_yaml=PLAYBOOK,
                   validated_yaml=VALIDATED, port_yaml=PORT)


def fresh(ssh, name: str) -> None:
    proc = ssh(name, f"rm -rf {DIR} && mkdir -p {DIR} && printf %s '{SSHD}' > {DIR}/sshd_config")
    assert proc.returncode == 0, proc.stderr


def read(ssh, name: str, path: str = f"{DIR}/sshd_config") -> str:
    proc = ssh(name, f"cat {path}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_plan_shows_what_the_apply_writes(work, ssh) -> None:
    name = work["name"]
    fresh(ssh, name)
    code, plan = orc(work, "plan", "port.yaml")
    assert code == 2, plan
    (planned,) = tasks(plan, name)
    code, applied = orc(work, "apply", "port.yaml")
    assert code == 0, applied
    after = read(ssh, name)
    assert after == SSHD.replace("Port 22\n", "Port 2222\n")  # replaced, not appended
    label = f"{name}:{DIR}/sshd_config"
    written = "".join(difflib.unified_diff(SSHD.splitlines(True), after.splitlines(True),
                                           fromfile=label, tofile=label))
    assert planned["diff"] == written


def test_edits_apply_once_then_are_ok(work, ssh) -> None:
    name = work["name"]
    fresh(ssh, name)
    code, applied = orc(work, "apply", "edits.yaml")
    assert code == 0, applied
    assert [t["status"] for t in tasks(applied, name)] == ["changed"] * 3
    assert read(ssh, name) == ("# sshd\nPort 2222\n# BEGIN ANSIBLE MANAGED BLOCK\n"
                               "Match User backup\n  X11Forwarding no\n"
                               "# END ANSIBLE MANAGED BLOCK\nPermitRootLogin yes\n"
                               "AcceptEnv LANG TZ LC_*\n")
    code, again = orc(work, "apply", "edits.yaml")
    assert code == 0 and [t["status"] for t in tasks(again, name)] == ["ok"] * 3, again


def test_backup_leaves_a_copy_named_as_ansible_names_it(work, ssh) -> None:
    name = work["name"]
    fresh(ssh, name)
    orc(work, "apply", "edits.yaml")
    listing = ssh(name, f"ls {DIR}").stdout.split()
    backups = [f for f in listing if f != "sshd_config"]
    assert len(backups) == 1, listing
    assert re.fullmatch(r"sshd_config\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~", backups[0])
    assert read(ssh, name, f"{DIR}/{backups[0]}") == SSHD
    orc(work, "apply", "edits.yaml")  # nothing changes: no new copy
    assert ssh(name, f"ls {DIR}").stdout.split() == listing


def test_a_failing_validate_fails_the_task_and_leaves_the_file(work, ssh) -> None:
    name = work["name"]
    fresh(ssh, name)
    temporary = ssh(name, "ls -a /tmp").stdout
    code, report = orc(work, "apply", "validated.yaml")
    assert code != 0
    (task,) = tasks(report, name)
    assert task["status"] == "failed" and "failed to validate" in task["error"], task
    assert read(ssh, name) == SSHD
    assert ssh(name, "ls -a /tmp").stdout == temporary  # its temporary file is removed


def test_rollback_restores_the_edited_file(work, ssh) -> None:
    name = work["name"]
    fresh(ssh, name)
    code, report = orc(work, "apply", "edits.yaml")
    assert code == 0 and read(ssh, name) != SSHD
    proc = run_orc("rollback", report["run_id"], "--ci", "--state-dir", str(work["state"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read(ssh, name) == SSHD
