"""A molecule scenario that drives orc (`orc test ROLE --init-molecule`), for teams on molecule.

molecule keeps its own sequence and reports; each step calls `orc test ROLE --step STEP` from a
playbook on localhost, so no Ansible module ever touches a host:
- create / destroy: the role test's lab hosts (molecule's default driver, managed by these
  playbooks);
- converge: orc applies the role; the task is "changed" exactly when orc changed something
  (exit code 2), so molecule's idempotence step reads orc's own change count;
- verify: molecule's testinfra verifier runs the role's tests/ over SSH with the ssh_config orc
  wrote (the lab's key, its known_hosts, StrictHostKeyChecking yes).
molecule is an optional extra (`pip install 'orchestrator[molecule]'`); orc never imports it.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.errors import InputError
from orchestrator.roletest.scenario import Scenario

MOLECULE_YML = """\
# molecule scenario for the {role} role, driven by orc: `molecule test` in roles/{role}/.
# Made by `orc test {role} --init-molecule`. Each step runs `orc test {role} --step STEP` on
# localhost against lab hosts orc starts (lab {lab}, or $ORC_MOLECULE_LAB); verify is molecule's
# testinfra over SSH with the lab's key and strict host keys. Needs root, like `orc lab`.
driver:
  name: default
  options:
    managed: true
platforms:
{platforms}
provisioner:
  name: ansible
  playbooks:
    create: create.yml
    converge: converge.yml
    destroy: destroy.yml
  inventory:
    hosts:
      all:
        hosts:
          localhost:
            ansible_connection: local
            # the Python running Ansible, where orc is installed too
            ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
verifier:
  name: testinfra
  directory: ../../tests
  options:
    connection: ssh
    hosts: "{hosts}"
    ssh-config: "${{ORC_LAB_ROOT:-/var/lib/orc/lab}}/${{ORC_MOLECULE_LAB:-{lab}}}/roletest/ssh_config"
scenario:
  test_sequence:
    - destroy
    - create
    - converge
    - idempotence
    - verify
    - destroy
"""

PLAYBOOK = """\
# molecule's {step} step for the {role} role: `orc test {role} --step {step}` on localhost.
- name: {step} with orc
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: orc test {role} --step {step}
      ansible.builtin.command:
        argv: [orc, test, {role}, --scenario, {scenario}, --step, {step}, --lab, "{{{{ lab }}}}"]
        chdir: "{{{{ lookup('env', 'MOLECULE_PROJECT_DIRECTORY') }}}}/../.."
      register: orc
{outcome}
  vars:
    lab: "{{{{ lookup('env', 'ORC_MOLECULE_LAB') | default('{lab}', true) }}}}"
"""
CONVERGE_OUTCOME = """\
      # orc exits 2 when the converge changed something: molecule's idempotence reads that
      changed_when: orc.rc == 2
      failed_when: orc.rc not in [0, 2]"""
OTHER_OUTCOME = """\
      changed_when: {changed}"""


def default_lab(role: str) -> str:
    """A lab name of molecule's own for this role: `m` + the role's letters, 8 at most."""
    return ("m" + re.sub(r"[^a-z0-9]", "", role.lower()))[:8]


def render(scenario: Scenario) -> dict[str, str]:
    """The scenario's files by name."""
    lab = default_lab(scenario.role)
    platforms = "\n".join(f"  - name: {p.name}" for p in scenario.platforms)
    hosts = ",".join(f"ssh://{p.name}" for p in scenario.platforms)
    files = {"molecule.yml": MOLECULE_YML.format(role=scenario.role, lab=lab,
                                                 platforms=platforms, hosts=hosts)}
    for step in ("create", "converge", "destroy"):
        outcome = CONVERGE_OUTCOME if step == "converge" else OTHER_OUTCOME.format(
            changed="true")
        files[f"{step}.yml"] = PLAYBOOK.format(step=step, role=scenario.role, lab=lab,
                                               scenario=scenario.name, outcome=outcome)
    return files


def write(scenario: Scenario) -> Path:
    """Write roles/ROLE/molecule/default/ for the scenario; never over files that differ."""
    directory = scenario.role_dir / "molecule" / "default"
    files = render(scenario)
    for name, text in files.items():
        path = directory / name
        if path.exists() and path.read_text() != text:
            raise InputError(f"{path} exists and differs: remove it to have it written anew")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory
