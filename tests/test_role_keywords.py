"""Keywords on a play's role entry (`roles: [{role: x, become: true}]`) apply to every task
and handler of the role and of its dependencies, as Ansible applies them; they are not role
variables. Ansible's role keywords orc does not implement are refused, never taken as
variables (https://docs.ansible.com/ansible/latest/reference_appendices/playbooks_keywords.html)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook


def _estate(tmp_path: Path, entry: str) -> Path:
    roles = tmp_path / "roles"
    for name, tasks in (("web", "- command: /bin/true\n- command: /bin/false\n  become: false\n"
                                "  become_user: nobody\n  ignore_errors: false\n"),
                        ("base", "- command: /bin/true\n")):
        (roles / name / "tasks").mkdir(parents=True)
        (roles / name / "tasks" / "main.yml").write_text(tasks)
    (roles / "web" / "handlers").mkdir()
    (roles / "web" / "handlers" / "main.yml").write_text("- name: reload\n  command: /bin/true\n")
    (roles / "web" / "meta").mkdir()
    (roles / "web" / "meta" / "main.yml").write_text("dependencies: [base]\n")
    book = tmp_path / "site.yaml"
    book.write_text(f"- hosts: all\n  roles:\n    - {entry}\n")
    return book


def test_become_on_a_role_entry_applies_to_its_tasks_not_its_variables(tmp_path: Path) -> None:
    play = load_playbook(_estate(
        tmp_path, "{role: web, become: true, become_user: app, ignore_errors: true, listen_port: 8080}"
    )).plays[0]
    (base_ref, base), (ref, web) = play.roles
    assert ref.params == {"listen_port": 8080}  # a role parameter stays a variable
    first, second = web.tasks
    assert (first.become, first.become_user, first.ignore_errors) == (True, "app", True)
    # a task's own keywords win over its role entry's
    assert (second.become, second.become_user) == (False, "nobody")
    assert web.handlers[0].become is True
    # a dependency runs under its parent's keywords
    assert base.tasks[0].become is True and base.tasks[0].become_user == "app"


def test_a_role_entry_without_keywords_leaves_tasks_alone(tmp_path: Path) -> None:
    play = load_playbook(_estate(tmp_path, "{role: web, greeting: hi}")).plays[0]
    web = play.roles[-1][1]
    assert web.tasks[0].become is None and web.tasks[0].ignore_errors is False
    assert play.roles[-1][0].params == {"greeting": "hi"}


@pytest.mark.parametrize("keyword", ["delegate_to: localhost", "no_log: true", "port: 8080",
                                     "remote_user: deploy", "environment: {A: b}"])
def test_an_ansible_role_keyword_orc_lacks_is_refused(tmp_path: Path, keyword: str) -> None:
    book = _estate(tmp_path, f"role: web\n      {keyword}")
    name = keyword.split(":")[0]
    with pytest.raises(InputError, match=rf"site.yaml:4: role entry keyword '{name}' is not "
                                         "supported"):
        load_playbook(book)


@pytest.mark.lab
@pytest.mark.slow
def test_become_on_a_role_entry_matches_ansible_playbook(tmp_path: Path, lab, lab_inventory: Path,
                                                         ssh) -> None:
    """ansible-playbook is the oracle: `become_user` on the role entry runs its tasks as that
    user, on one host under Ansible and on another under orc."""
    import os
    import subprocess
    import sys

    from tests.support.orc import run_orc

    tasks = tmp_path / "roles" / "who" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text("- shell: whoami > /tmp/role-entry-{{ tool }}\n")
    ansible_host, orc_host = lab.hosts[0].name, lab.hosts[1].name
    for tool in ("ansible", "orc"):
        (tmp_path / f"{tool}.yaml").write_text(
            "- hosts: all\n  gather_facts: false\n  roles:\n    - role: who\n"
            f"      become: true\n      become_user: nobody\n      tool: {tool}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    (tmp_path / "ansible.cfg").write_text("")
    env |= {"ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"), "ANSIBLE_HOME": str(tmp_path),
            "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i",
                           str(lab_inventory), "-l", ansible_host, str(tmp_path / "ansible.yaml")],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_orc("apply", str(tmp_path / "orc.yaml"), "-i", str(lab_inventory), "-l",
                   orc_host, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    whom = {tool: ssh(host, f"cat /tmp/role-entry-{tool}").stdout.strip()
            for tool, host in (("ansible", ansible_host), ("orc", orc_host))}
    assert whom == {"ansible": "nobody", "orc": "nobody"}
