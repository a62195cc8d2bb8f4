"""community.general.pamd on a real lab host: `orc plan` shows each task's edit of the service
file as the host holds it, `backup` leaves Ansible's timestamped copy, a second apply is ok,
and `orc rollback` restores the file byte for byte."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.books import orc, tasks, work_on
from tests.support.orc import run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

DIR = "/etc/orc-pamd"
SERVICE = ("# test service\n"
           "@include common-auth\n"
           "auth    required   pam_env.so\n"
           "session optional   pam_motd.so  motd=/run/motd.dynamic\n"
           "session optional   pam_mail.so standard\n")
# a changed file is written as community.general writes it: every rule in its layout
AFTER = ("# test service\n"
         "@include common-auth\n"
         "auth       required pam_env.so readenv=1\n"
         "auth       sufficient pam_rootok.so\n"
         "session    optional pam_mail.so standard\n")
ENV, MOTD, MAIL = ("auth       required pam_env.so\n",
                   "session    optional pam_motd.so motd=/run/motd.dynamic\n",
                   "session    optional pam_mail.so standard\n")
HEAD = "# test service\n@include common-auth\n"
PLAYBOOK = f"""\
- name: pamd
  hosts: all
  tasks:
    - name: no motd
      community.general.pamd:
        name: svc
        path: {DIR}
        type: session
        control: optional
        module_path: pam_motd.so
        state: absent
        backup: true
    - name: readenv
      community.general.pamd:
        name: svc
        path: {DIR}
        type: auth
        control: required
        module_path: pam_env.so
        module_arguments: readenv=1
        state: args_present
    - name: rootok after env
      community.general.pamd:
        name: svc
        path: {DIR}
        type: auth
        control: required
        module_path: pam_env.so
        new_type: auth
        new_control: sufficient
        new_module_path: pam_rootok.so
        state: after
"""


@pytest.fixture(scope="module")
def work(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory):
    return work_on(lab, lab_inventory, tmp_path_factory.mktemp("pamd"), site_yaml=PLAYBOOK)


def read(ssh, name: str, path: str = f"{DIR}/svc") -> str:
    proc = ssh(name, f"cat {path}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_pamd_plans_applies_backs_up_and_rolls_back(work, ssh) -> None:
    name = work["name"]
    proc = ssh(name, f"rm -rf {DIR} && mkdir -p {DIR} && printf %s '{SERVICE}' > {DIR}/svc")
    assert proc.returncode == 0, proc.stderr
    code, plan = orc(work, "plan")
    assert code == 2, plan
    planned = tasks(plan, name)
    code, applied = orc(work, "apply")
    assert code == 0, applied
    assert [t["status"] for t in tasks(applied, name)] == ["changed"] * 3
    assert read(ssh, name) == AFTER
    # the plan reads the file as the host holds it then: each diff is that task's edit of it
    label = f"{name}:{DIR}/svc"
    alone = [
        HEAD + ENV + MAIL,
        HEAD + "auth       required pam_env.so readenv=1\n" + MOTD + MAIL,
        HEAD + ENV + "auth       sufficient pam_rootok.so\n" + MOTD + MAIL,
    ]
    for task, after in zip(planned, alone, strict=True):
        written = "".join(difflib.unified_diff(SERVICE.splitlines(True), after.splitlines(True),
                                               fromfile=label, tofile=label))
        assert task["diff"] == written, task
    backups = [f for f in ssh(name, f"ls {DIR}").stdout.split() if f != "svc"]
    assert len(backups) == 1 and re.fullmatch(
        r"svc\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~", backups[0]), backups
    assert read(ssh, name, f"{DIR}/{backups[0]}") == SERVICE
    code, again = orc(work, "apply")
    assert code == 0 and [t["status"] for t in tasks(again, name)] == ["ok"] * 3, again
    proc = run_orc("rollback", applied["run_id"], "--ci", "--state-dir", str(work["state"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read(ssh, name) == SERVICE
