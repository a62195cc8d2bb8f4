"""Loading playbooks, roles and tasks: every mistake is one line with file, line and the nearest
valid name, raised before any host is contacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook
from tests.support.orc import run_orc

# an address nothing answers on: loading must fail before orc ever tries to connect
INVENTORY = "all:\n  hosts:\n    web1:\n      ansible_host: 192.0.2.254\n"


def _estate(tmp_path: Path, tasks: str, play_extra: str = "", handlers: str = "") -> Path:
    role = tmp_path / "roles" / "web"
    (role / "tasks").mkdir(parents=True)
    (role / "tasks" / "main.yml").write_text(tasks)
    if handlers:
        (role / "handlers").mkdir()
        (role / "handlers" / "main.yaml").write_text(handlers)
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    book = tmp_path / "site.yaml"
    book.write_text(f"- name: web\n  hosts: all\n{play_extra}  roles: [web]\n")
    return book


@pytest.mark.parametrize(
    "tasks, expected",
    [
        ("- name: x\n  coppy:\n    dest: /tmp/x\n",
         "roles/web/tasks/main.yml:2: unknown module 'coppy' (did you mean 'copy'?)"),
        ("- name: x\n  copy:\n    content: hi\n    dset: /tmp/x\n",
         "roles/web/tasks/main.yml:2: copy has no argument 'dset' (did you mean 'dest'?)"),
        ("- name: x\n  copy:\n    content: hi\n    dest: /tmp/x\n  notfy: y\n",
         "roles/web/tasks/main.yml:5: unknown keyword or module 'notfy' (did you mean 'notify'?)"),
        ("- service:\n    name: nginx\n    state: runing\n",
         "roles/web/tasks/main.yml:1: service: state='runing' is not one of started, stopped, "
         "restarted, reloaded"),
        ("- template:\n    dest: /etc/x\n",
         "roles/web/tasks/main.yml:1: template needs the argument 'src'"),
        ("- pyinfra.files.lines:\n    path: /x\n",
         "roles/web/tasks/main.yml:1: pyinfra.files has no operation 'lines' (did you mean 'line'?)"),
        ("- name: x\n  copy: {dest: /x\n",
         "roles/web/tasks/main.yml:3: invalid YAML"),
        ("- name: only a name\n",
         "roles/web/tasks/main.yml:1: task names no module"),
        ("- template:\n    src: nowhere.j2\n    dest: /etc/x\n",
         "roles/web/tasks/main.yml:1: template: template 'nowhere.j2' not found"),
        ("- copy:\n    content: \"{{ broken( }}\"\n    dest: /etc/x\n",
         "roles/web/tasks/main.yml:1: template syntax:"),
    ],
)
def test_bad_task_is_one_line_naming_file_and_line(tmp_path: Path, tasks: str,
                                                   expected: str) -> None:
    book = _estate(tmp_path, tasks)
    proc = run_orc("plan", str(book), "-i", str(tmp_path / "inventory.yaml"))
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert line.startswith("error: " + str(tmp_path / expected.split(":")[0]))
    assert expected.split(":", 1)[1] in line


def test_unknown_play_keyword_names_the_nearest(tmp_path: Path) -> None:
    book = _estate(tmp_path, "- debug_copy: {}\n".replace("debug_copy", "copy") , "  serail: 1\n")
    with pytest.raises(InputError) as err:
        load_playbook(book)
    assert str(err.value) == f"{book}:3: unknown play keyword 'serail' (did you mean 'serial'?)"


def test_missing_role_names_where_it_looked(tmp_path: Path) -> None:
    book = tmp_path / "site.yaml"
    (tmp_path / "roles" / "nginx").mkdir(parents=True)
    book.write_text("- hosts: all\n  roles: [ngnix]\n")
    with pytest.raises(InputError, match=r"role 'ngnix' not found in .*roles \(did you mean 'nginx'\?\)"):
        load_playbook(book)


def test_role_dependencies_run_first_and_once(tmp_path: Path) -> None:
    for name, deps in (("base", ""), ("app", "dependencies: [base]\n"), ("web", "dependencies: [base, app]\n")):
        role = tmp_path / "roles" / name
        (role / "tasks").mkdir(parents=True)
        (role / "tasks" / "main.yaml").write_text(f"- name: {name} task\n  command: 'true'\n")
        if deps:
            (role / "meta").mkdir()
            (role / "meta" / "main.yaml").write_text(deps)
    book = tmp_path / "site.yaml"
    book.write_text("- hosts: all\n  roles: [web, base]\n")
    play = load_playbook(book).plays[0]
    assert [role.name for _, role in play.roles] == ["base", "app", "web"]
    assert [t.name for t in play.all_tasks()] == ["base task", "app task", "web task"]


def test_dependency_cycle_is_refused(tmp_path: Path) -> None:
    for name, dep in (("a", "b"), ("b", "a")):
        role = tmp_path / "roles" / name
        (role / "meta").mkdir(parents=True)
        (role / "meta" / "main.yaml").write_text(f"dependencies: [{dep}]\n")
    book = tmp_path / "site.yaml"
    book.write_text("- hosts: all\n  roles: [a]\n")
    with pytest.raises(InputError, match="role dependency cycle: a -> b -> a"):
        load_playbook(book)


def test_example_site_loads_with_every_role() -> None:
    repo = Path(__file__).resolve().parent.parent
    play = load_playbook(repo / "site.yaml").plays[0]
    assert [role.name for _, role in play.roles] == ["common", "app", "nginx"]
    assert {h.name for h in play.all_handlers()} == {"restart app", "reload nginx"}


def test_template_file_with_bad_syntax_names_the_template_line(tmp_path: Path) -> None:
    book = _estate(tmp_path, "- template:\n    src: site.j2\n    dest: /etc/site\n")
    templates = tmp_path / "roles" / "web" / "templates"
    templates.mkdir()
    (templates / "site.j2").write_text("ok\n{{ x | }}\nmore\n")
    with pytest.raises(InputError) as err:
        load_playbook(book)
    assert str(err.value).startswith(f"{templates / 'site.j2'}:2: template syntax:")
    # an unclosed block is found where the template ends (with Ansible's trim_blocks, as there)
    (templates / "site.j2").write_text("ok\n{% if x %}\nunclosed\n")
    with pytest.raises(InputError) as err:
        load_playbook(book)
    assert str(err.value).startswith(f"{templates / 'site.j2'}:3: template syntax:")
    assert "'endif'" in str(err.value)


def test_python_role_without_deploy_functions_or_with_a_syntax_error(tmp_path: Path) -> None:
    role = tmp_path / "roles" / "py"
    role.mkdir(parents=True)
    book = tmp_path / "site.yaml"
    book.write_text("- hosts: all\n  roles: [py]\n")
    (role / "deploy.py").write_text("def plain():\n    pass\n")
    with pytest.raises(InputError, match="deploy.py: deploy.py defines no pyinfra @deploy"):
        load_playbook(book)
    (role / "deploy.py").write_text("from pyinfra.api import deploy\n\ndef broken(:\n")
    with pytest.raises(InputError) as err:
        load_playbook(book)
    assert str(err.value).startswith(f"{role / 'deploy.py'}:3: cannot load: SyntaxError")
