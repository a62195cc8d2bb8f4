"""`orc plan` follows Ansible's check mode on real hosts: a task with `check_mode: false` runs
(its result is real), a task predicted to change registers nothing a plan could know, and a task
that reads such a result is shown as known after apply, never guessed. Then an apply runs it
all, each task seeing the results of the ones before it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.results import CHANGED, OK, UNKNOWN
from orchestrator.engine.options import RunOptions
from orchestrator.engine.run import run_playbook
from orchestrator.inventory import load_inventory
from orchestrator.lab import Lab
from orchestrator.load.playbook import load_playbook
from tests.support.orc import run_orc

pytestmark = pytest.mark.lab

PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: read the release
      command: cat /etc/debian_version
      register: release
      changed_when: false
      check_mode: false
    - name: write the release
      copy: {content: "{{ release.stdout }}\\n", dest: /srv/engine-plan/release.txt, mode: "0644"}
    - name: a command that changes the host
      shell: date +%s%N | tee /srv/engine-plan/stamp.txt
      register: stamp
    - name: reads what only an apply knows
      copy: {content: "{{ stamp.stdout }}\\n", dest: /srv/engine-plan/copy.txt, mode: "0644"}
"""


def _statuses(run, host: str) -> dict[str, str]:
    return {t.name: t.status for t in run.plays[0].hosts[host].tasks}


def test_plan_runs_check_mode_false_and_never_guesses(lab: Lab, lab_inventory: Path, ssh,
                                                      tmp_path: Path) -> None:
    host = lab.hosts[0].name
    ssh(host, "rm -rf /srv/engine-plan && mkdir -p /srv/engine-plan")
    book_path = tmp_path / "book.yaml"
    book_path.write_text(PLAY)
    book, inventory = load_playbook(book_path), load_inventory([str(lab_inventory)])
    release = ssh(host, "cat /etc/debian_version").stdout.strip()

    plan = run_playbook(book, inventory, RunOptions(limit=host, dry_run=True))
    assert _statuses(plan, host) == {
        "read the release": OK, "write the release": CHANGED,
        "a command that changes the host": CHANGED, "reads what only an apply knows": UNKNOWN}
    [write] = [t for t in plan.plays[0].hosts[host].tasks if t.name == "write the release"]
    assert f"+{release}" in write.diff  # the real output, read in the plan
    [unknown] = [t for t in plan.plays[0].hosts[host].tasks if t.status == UNKNOWN]
    assert "known after apply" in unknown.error and "'stamp'" in unknown.error
    assert not plan.failed
    assert ssh(host, "ls /srv/engine-plan").stdout.strip() == ""  # nothing written

    shown = run_orc("plan", str(book_path), "-i", str(lab_inventory), "--limit", host)
    assert shown.returncode == 2, shown.stdout + shown.stderr  # changes pending
    assert "reads what only an apply knows" in shown.stdout

    apply = run_playbook(book, inventory, RunOptions(limit=host))
    assert not apply.failed
    assert ssh(host, "cat /srv/engine-plan/release.txt").stdout.strip() == release
    stamp = ssh(host, "cat /srv/engine-plan/stamp.txt").stdout.strip()
    assert ssh(host, "cat /srv/engine-plan/copy.txt").stdout.strip() == stamp


def test_debug_says_its_message_on_the_terminal(lab: Lab, lab_inventory: Path,
                                                tmp_path: Path) -> None:
    host = lab.hosts[0].name
    book = tmp_path / "debug.yaml"
    book.write_text("- hosts: all\n  gather_facts: true\n  tasks:\n"
                    "    - name: say where\n"
                    "      debug: {msg: 'family {{ ansible_os_family }} on {{ inventory_hostname }}'}\n"
                    "    - name: kept quiet\n"
                    "      debug: {msg: secret words}\n      no_log: true\n")
    proc = run_orc("apply", str(book), "-i", str(lab_inventory), "--limit", host, "--yes",
                   "--ci", "--state-dir", str(tmp_path / ".orc"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{host} | say where: family Debian on {host}" in proc.stdout
    assert "secret words" not in proc.stdout


HOSTVARS_PLAY = """\
- hosts: all
  gather_facts: true
  gather_subset: [min]
  tasks:
    - name: a result each host registers
      command: echo "{{ inventory_hostname }} registered"
      register: said
      changed_when: false
    - name: each host's own value
      set_fact:
        peer_id: "{{ inventory_hostname }}-id"
    - name: every host reads the others
      copy:
        dest: "{{ out }}/peers.txt"
        mode: "0644"
        content: |
          {% for h in ansible_play_hosts | sort %}
          {{ h }} {{ hostvars[h].peer_id }} {{ hostvars[h].said.stdout }} {{ hostvars[h].ansible_facts.hostname }} {{ hostvars[h]['ansible_hostname'] }}
          {% endfor %}
"""


def test_hostvars_hold_the_other_hosts_facts_and_results_as_in_ansible(
        lab: Lab, lab_inventory: Path, ssh, tmp_path: Path) -> None:
    """`hostvars[other]` holds what the other host gathered, set and registered before the
    task reading it, as ansible-playbook leaves it on the same two hosts."""
    import os
    import subprocess
    import sys

    hosts = [h.name for h in lab.hosts[:2]]
    for host in hosts:
        ssh(host, "rm -rf /srv/hostvars && mkdir -p /srv/hostvars/orc /srv/hostvars/ansible")
    book = tmp_path / "book.yaml"
    book.write_text(HOSTVARS_PLAY)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n\n[ssh_connection]\npipelining = True\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i",
                           str(lab_inventory), "-l", ",".join(hosts), str(book),
                           "-e", "out=/srv/hostvars/ansible"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    run = run_playbook(load_playbook(book), load_inventory([str(lab_inventory)]),
                       RunOptions(limit=",".join(hosts), extra_vars={"out": "/srv/hostvars/orc"}))
    assert not run.plays[0].failed_hosts, [t.error for h in run.plays[0].hosts.values()
                                           for t in h.tasks if t.error]
    for host in hosts:
        ours = ssh(host, "cat /srv/hostvars/orc/peers.txt").stdout
        assert ours == ssh(host, "cat /srv/hostvars/ansible/peers.txt").stdout
        assert all(f"{h} {h}-id {h} registered" in ours for h in hosts)
