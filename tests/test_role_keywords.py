"""Keywords on a play's role entry (`roles: [{role: x, become: true}]`) apply to every task
and handler of the role and of its dependencies, as Ansible applies them; they are not role
variables. Ansible's role keywords orc does not implement are refused, never taken as
variables (https://docs.ansible.com/ansible/latest/reference_appendices/playbooks_keywords.html)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.playbook import load_playbook


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
