"""timezone on a real lab host: /etc/localtime becomes the relative link `timedatectl
set-timezone` makes (/etc/timezone is left alone, as Ansible leaves it: the differential case
modules-timezone), a second run is ok, and `orc rollback` puts the link back; the repository
files of apt_repository are restored the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.books import orc, tasks, work_on
from tests.support.orc import run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: zone
      timezone:
        name: Pacific/Auckland
    - name: a repository
      apt_repository:
        repo: deb http://example.invalid/orc-tz stable main
        update_cache: false
"""
STATE = ("readlink /etc/localtime; cat /etc/timezone 2>&1; "
         "cat /etc/apt/sources.list.d/example_invalid_orc_tz.list 2>&1")


@pytest.fixture(scope="module")
def work(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory):
    return work_on(lab, lab_inventory, tmp_path_factory.mktemp("timezone"),
                   site_yaml=PLAYBOOK)


def test_timezone_is_set_once_and_rolled_back(work, ssh) -> None:
    name = work["name"]
    before = ssh(name, STATE).stdout
    assert "Pacific/Auckland" not in before
    code, report = orc(work, "apply")
    assert code == 0, report
    assert [t["status"] for t in tasks(report, name)] == ["changed", "changed"]
    after = ssh(name, STATE).stdout.splitlines()
    assert after == ["../usr/share/zoneinfo/Pacific/Auckland", before.splitlines()[1],
                     "deb http://example.invalid/orc-tz stable main"]
    assert ssh(name, "date +%Z").stdout.strip() in ("NZDT", "NZST")
    code, again = orc(work, "apply")
    assert code == 0 and [t["status"] for t in tasks(again, name)] == ["ok", "ok"]
    proc = run_orc("rollback", report["run_id"], "--ci", "--state-dir", str(work["state"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ssh(name, STATE).stdout == before
