"""Every play, role-entry and task keyword whose value has a shape (a mapping, a list, a
string) is checked at load: a wrong shape is one line naming file:line and what was expected,
never a traceback (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook
from tests.support.orc import run_orc

TASK = "    - command: /bin/true\n"


def _book(tmp_path: Path, play: str) -> Path:
    role = tmp_path / "roles" / "web" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text("- command: /bin/true\n")
    book = tmp_path / "site.yaml"
    book.write_text("- hosts: all\n" + play)
    return book


# (the play's text after `hosts: all`, the error's line, what the error says)
SHAPES = [
    ("  vars: [1]\n", 2, "vars: expected a mapping"),
    ("  vars: hello\n", 2, "vars: expected a mapping"),
    ("  vars_files: {a: 1}\n", 2, "vars_files must be a string or a list of strings"),
    ("  vars_files: [[a]]\n", 2, "vars_files must be a string or a list of strings"),
    ("  roles: web\n", 2, "roles: expected a list of role names or role entries"),
    ("  roles: [{role: web, vars: [1]}]\n", 2, "vars: expected a mapping"),
    ("  roles:\n    - role: web\n      tags: {a: 1}\n", 4,
     "tags must be a string or a list of strings"),
    ("  roles:\n    - role: web\n      when: {a: 1}\n", 4,
     "when: expected an expression or a list of expressions"),
    ("  roles:\n    - role: web\n      become_user: [root]\n", 4, "become_user: expected a user"),
    ("  roles:\n    - role: web\n      become: maybe\n", 4, "become:"),
    ("  roles: [7]\n", 1, "a role entry must be a name or a mapping"),
    ("  tags: 5\n", 2, "tags must be a string or a list of strings"),
    ("  tags: {a: 1}\n", 2, "tags must be a string or a list of strings"),
    ("  handlers: {name: x}\n", 2, "handlers: expected a list of handlers"),
    ("  tasks: {command: /bin/true}\n", 2, "tasks: expected a list of tasks"),
    ("  pre_tasks: hello\n", 2, "pre_tasks: expected a list of tasks"),
    ("  post_tasks: 3\n", 2, "post_tasks: expected a list of tasks"),
    ("  become_user: [root]\n", 2, "become_user: expected a user name"),
    ("  hosts2: x\n", 2, "unknown play keyword 'hosts2'"),
    ("  tasks:\n    - command: /bin/true\n      notify: {a: 1}\n", 4,
     "notify must be a string or a list of strings"),
    ("  tasks:\n    - command: /bin/true\n      tags: [[a]]\n", 4,
     "tags must be a string or a list of strings"),
    ("  tasks:\n    - command: /bin/true\n      when: {a: 1}\n", 4,
     "when: expected an expression or a list of expressions"),
    ("  tasks:\n    - command: /bin/true\n      changed_when: [{a: 1}]\n", 4,
     "changed_when: expected an expression or a list of expressions"),
    ("  tasks:\n    - command: /bin/true\n      vars: [1]\n", 4, "vars: expected a mapping"),
    ("  tasks:\n    - command: /bin/true\n      args: [1]\n", 4, "args: expected a mapping"),
    ("  tasks:\n    - command: /bin/true\n      register: [x]\n", 4,
     "register: expected a variable name"),
    ("  tasks:\n    - command: /bin/true\n      loop_control: [1]\n", 4,
     "loop_control: expected a mapping"),
]


@pytest.mark.parametrize("play, line, expected", SHAPES)
def test_a_keyword_of_the_wrong_shape_is_one_error_at_its_line(
        tmp_path: Path, play: str, line: int, expected: str) -> None:
    book = _book(tmp_path, play)
    with pytest.raises(InputError) as caught:
        load_playbook(book)
    message = str(caught.value)
    assert message.startswith(f"{book}:{line}: "), message
    assert expected in message


def test_hosts_of_the_wrong_shape_is_one_line(tmp_path: Path) -> None:
    book = tmp_path / "site.yaml"
    book.write_text("- name: x\n  hosts: {a: 1}\n  tasks: []\n")
    with pytest.raises(InputError, match=r"site.yaml:2: hosts: expected a host pattern"):
        load_playbook(book)


def test_hosts_may_be_a_list_of_patterns(tmp_path: Path) -> None:
    book = tmp_path / "site.yaml"
    book.write_text("- hosts: [web, db]\n  tasks: []\n")
    assert load_playbook(book).plays[0].hosts == "web,db"


def test_play_vars_not_a_mapping_from_the_command_line(tmp_path: Path) -> None:
    book = _book(tmp_path, "  vars: [1]\n  tasks: []\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("all:\n  hosts:\n    web1:\n      ansible_host: 192.0.2.254\n")
    proc = run_orc("plan", str(book), "-i", str(inventory))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: {book}:2: vars: expected a mapping"]
