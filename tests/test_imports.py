"""import_tasks and import_role expanded at load as ansible-core expands them (in blocks too);
include_tasks, include_role and include_vars kept as tasks for the engine.

The listing test compares `orc plan --list-tasks` with `ansible-playbook --list-tasks` on the
same estate (which tasks, in which order, with which tags after inheritance)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook
from orchestrator.modules.base import HostContext
from tests.support.orc import run_orc

ESTATE = {
    "roles/web/tasks/main.yml": """\
- name: web first
  debug_placeholder: {}
- import_tasks: vhosts.yml
  when: web_vhosts | bool
  tags: [vhosts]
  vars: {web_port: 8080, shared: outer}
  become: true
- name: web last
  command: /bin/true
""",
    "roles/web/tasks/vhosts.yml": """\
- name: vhost one
  command: echo {{ web_port }}
  tags: one
  vars: {shared: inner}
  become: false
- import_tasks: sub/more.yml
  when: web_port == 8080
""",
    "roles/web/tasks/sub/more.yml": """\
- name: more
  command: /bin/true
  when: true
""",
    "roles/web/defaults/main.yml": "web_vhosts: true\n",
    "roles/db/tasks/main.yml": "- name: db main\n  command: /bin/true\n",
    "roles/db/tasks/setup.yml": "- name: db setup\n  command: echo {{ db_name }}\n",
    "roles/db/vars/main.yml": "db_name: main\n",
    "roles/db/vars/other.yml": "db_name: other\n",
    "roles/db/defaults/main.yml": "db_default: d\n",
    "roles/db/handlers/alt.yml": "- name: db alt handler\n  command: /bin/true\n",
    "roles/db/meta/main.yml": "dependencies: [base]\n",
    "roles/base/tasks/main.yml": "- name: base task\n  command: /bin/true\n",
    "tasks/extra.yml": "- name: extra\n  command: /bin/true\n  tags: [x]\n",
    "site.yml": """\
- hosts: all
  gather_facts: false
  tags: [play]
  roles: [web]
  pre_tasks:
    - name: early
      command: /bin/true
  tasks:
    - import_tasks: tasks/extra.yml
      tags: imported
    - name: import db
      import_role: name=db tasks_from=setup vars_from=other handlers_from=alt
      tags: [dbtag]
      when: db_wanted | default(true)
  handlers:
    - name: own handler
      command: /bin/true
""",
}


def _estate(root: Path, files: dict[str, str], placeholder: str = "command: /bin/true"
            ) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content.replace("debug_placeholder: {}", placeholder))
    return root / "site.yml"


def test_imports_bring_tasks_in_place_under_the_imports_keywords(tmp_path: Path) -> None:
    play = load_playbook(_estate(tmp_path, ESTATE)).plays[0]
    web = play.roles[0][1]
    assert [t.name for t in web.tasks] == ["web first", "vhost one", "more", "web last"]
    first, one, more, last = web.tasks
    assert (first.when, first.become, first.tags) == (None, None, {"play"})
    # the import's when first, then the task's own, each checked per task
    assert one.when == ["web_vhosts | bool"]
    assert more.when == ["web_vhosts | bool", "web_port == 8080", True]
    assert one.tags == {"play", "vhosts", "one"} and more.tags == {"play", "vhosts"}
    assert one.vars == {"web_port": 8080, "shared": "inner"}
    assert more.vars == {"web_port": 8080, "shared": "outer"}
    assert (one.become, more.become) == (False, True)  # the task's own wins
    assert one.path == str(tmp_path / "roles/web/tasks/vhosts.yml") and one.line == 1
    assert more.path == str(tmp_path / "roles/web/tasks/sub/more.yml")
    assert {t.role for t in web.tasks} == {"web"}
    assert play.search_dirs(more)["templates"][0] == tmp_path / "roles/web/templates"


def test_import_role_brings_its_files_and_handlers_into_the_play(tmp_path: Path) -> None:
    play = load_playbook(_estate(tmp_path, ESTATE)).plays[0]
    names = [(t.role, t.name) for t in play.tasks]
    assert names == [(None, "extra"), ("base", "base task"), ("db", "db setup")]
    extra, base, setup = play.tasks
    assert extra.tags == {"play", "imported", "x"}
    assert setup.tags == {"play", "dbtag"} and setup.when == ["db_wanted | default(true)"]
    assert base.when == ["db_wanted | default(true)"]  # its dependency is under the import
    (base_ref, base_role), (db_ref, db_role) = play.imported_roles
    assert (base_role.name, db_role.name) == ("base", "db")
    assert db_role.vars == {"db_name": "other"} and db_role.defaults == {"db_default": "d"}
    assert db_ref.file("tasks_from") == "setup"
    assert play.role_of(setup) == (db_ref, db_role)
    assert play.role_of(base) == (base_ref, base_role)
    assert play.role_of(extra) is None
    # handlers: the roles' own, the play's, then the imported role's (ansible-core's order)
    assert [h.name for h in play.all_handlers()] == ["own handler", "db alt handler"]
    assert play.search_dirs(setup)["files"][0] == tmp_path / "roles/db/files"


def _listed(text: str) -> list[tuple[str, list[str]]]:
    rows = re.findall(r"^      (.+?)\tTAGS: \[(.*)\]$", text, re.M)
    return [(name.strip(), sorted(t for t in tags.split(", ") if t)) for name, tags in rows]


def test_task_listing_matches_ansible_playbook(tmp_path: Path) -> None:
    book = _estate(tmp_path, ESTATE)
    (tmp_path / "hosts.yaml").write_text("all:\n  hosts:\n    web1:\n      ansible_host: "
                                         "192.0.2.254\n")
    ansible = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "web1,",
         "--list-tasks", str(book)], capture_output=True, text=True, check=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"}, cwd=tmp_path)
    ours = run_orc("plan", str(book), "-i", str(tmp_path / "hosts.yaml"), "--list-tasks")
    assert ours.returncode == 0, ours.stderr
    expected = _listed(ansible.stdout)
    assert len(expected) == 8 and expected[0] == ("early", ["play"])
    assert _listed(ours.stdout) == expected


def _book(tmp_path: Path, files: dict[str, str]) -> Path:
    return _estate(tmp_path, {"site.yml": "- hosts: all\n  roles: [web]\n", **files})


@pytest.mark.parametrize("files, message", [
    ({"roles/web/tasks/main.yml": "- import_tasks: a.yml\n",
      "roles/web/tasks/a.yml": "- command: /bin/true\n- import_tasks: b.yml\n",
      "roles/web/tasks/b.yml": "- import_tasks: a.yml\n"},
     "roles/web/tasks/a.yml: import cycle: a.yml -> b.yml -> a.yml"),
    ({"roles/web/tasks/main.yml": "- command: /bin/true\n- import_tasks: nowhere.yml\n"},
     "roles/web/tasks/main.yml:2: import_tasks: 'nowhere.yml' not found (looked in"),
    ({"roles/web/tasks/main.yml": "- import_tasks: a.yml\n  loop: [1, 2]\n",
      "roles/web/tasks/a.yml": "- command: /bin/true\n"},
     "roles/web/tasks/main.yml:2: loop: a loop on an import: use include_tasks"),
    ({"roles/web/tasks/main.yml": "- import_tasks: a.yml\n  register: r\n",
      "roles/web/tasks/a.yml": "- command: /bin/true\n"},
     "roles/web/tasks/main.yml:2: register: register on an import registers nothing"),
    ({"roles/web/tasks/main.yml": "- import_tasks: '{{ os }}.yml'\n"},
     "roles/web/tasks/main.yml:1: import_tasks: file '{{ os }}.yml' is a template; an import "
     "is expanded at load"),
    ({"roles/web/tasks/main.yml": "- import_tasks: a.yml\n",
      "roles/web/tasks/a.yml": "- command: /bin/true\n- coppy: {}\n"},
     "roles/web/tasks/a.yml:2: unknown module 'coppy'"),
    ({"roles/web/tasks/main.yml": "- import_role: name=nosuch\n"},
     "roles/web/tasks/main.yml:1: role 'nosuch' not found"),
    ({"roles/web/tasks/main.yml": "- import_role: name=db tasks_from=nope\n",
      "roles/db/tasks/main.yml": "- command: /bin/true\n"},
     "roles/web/tasks/main.yml:1: role 'db' has no tasks file 'nope' (tasks_from"),
    ({"roles/web/tasks/main.yml": "- import_role: name=web\n"},
     "roles/web/tasks/main.yml: import cycle: main.yml -> main.yml"),
    ({"roles/web/tasks/main.yml": "- import_role: {name: db, apply: {become: true}}\n"},
     "roles/web/tasks/main.yml:1: import_role has no argument 'apply'"),
])
def test_a_bad_import_is_one_line(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as err:
        load_playbook(_book(tmp_path, files))
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(str(tmp_path / message.split(":")[0])), text
    assert message.split(":", 1)[1] in text


def test_import_role_twice_runs_twice_unless_duplicates_are_refused(tmp_path: Path) -> None:
    files = {"roles/db/tasks/main.yml": "- name: db\n  command: /bin/true\n",
             "roles/web/tasks/main.yml": "- import_role: name=db\n- import_role: name=db\n"}
    play = load_playbook(_book(tmp_path, files)).plays[0]
    assert [t.name for t in play.roles[0][1].tasks] == ["db", "db"]
    files["roles/web/tasks/main.yml"] += "- import_role: name=db allow_duplicates=false\n"
    play = load_playbook(_book(tmp_path, files)).plays[0]
    assert [t.name for t in play.roles[0][1].tasks] == ["db", "db"]


def test_handlers_import_tasks_from_the_roles_handlers(tmp_path: Path) -> None:
    files = {"roles/web/tasks/main.yml": "- command: /bin/true\n  notify: restart\n",
             "roles/web/handlers/main.yml": "- import_tasks: restart.yml\n",
             "roles/web/handlers/restart.yml": "- name: restart\n  command: /bin/true\n"}
    play = load_playbook(_book(tmp_path, files)).plays[0]
    assert [h.name for h in play.all_handlers()] == ["restart"]


@pytest.mark.parametrize("task, args", [
    ("include_tasks: setup-{{ ansible_os_family }}.yml", {"file": "setup-{{ ansible_os_family }}.yml"}),
    ("include_tasks: {file: a.yml, apply: {become: true}}",
     {"file": "a.yml", "apply": {"become": True}}),
    ("include_role: name=db tasks_from=setup public=yes",
     {"name": "db", "tasks_from": "setup", "public": True, "allow_duplicates": True}),
    ("include_vars: '{{ ansible_os_family }}.yml'", {"file": "{{ ansible_os_family }}.yml"}),
    ("include_vars: {file: os.yml, name: os_vars}", {"file": "os.yml", "name": "os_vars"}),
    ("include_vars: dir=vars depth=1 extensions=yml,yaml",
     {"dir": "vars", "depth": 1, "extensions": ["yml", "yaml"]}),
    ("ansible.builtin.include_role:\n      name: db", {"name": "db", "vars_from": "main"}),
])
def test_dynamic_includes_load_as_tasks_for_the_engine(tmp_path: Path, task: str,
                                                       args: dict) -> None:
    book = tmp_path / "site.yml"
    book.write_text(f"- hosts: all\n  tasks:\n  - when: x is defined\n    {task}\n")
    loaded = load_playbook(book).plays[0].tasks[0]
    assert loaded.when == "x is defined"
    assert {k: loaded.args[k] for k in args} == args
    assert loaded.module.action  # the engine runs it in the task's place


def test_include_vars_refuses_hash_merge_at_load(tmp_path: Path) -> None:
    book = tmp_path / "site.yml"
    book.write_text("- hosts: all\n  tasks:\n  - include_vars: {file: a.yml, "
                    "hash_behaviour: merge}\n")
    with pytest.raises(InputError, match="hash_behaviour='merge' is not one of replace"):
        load_playbook(book)


def test_an_unexpanded_import_is_not_run_silently() -> None:
    module = modules.lookup("import_tasks", {})
    with pytest.raises(InputError, match="expanded when the playbook loads"):
        module.build(module.normalise("a.yml", {}), HostContext(None, {}))


def test_imports_inside_a_block_and_a_block_inside_an_import(tmp_path: Path) -> None:
    files = {"roles/web/tasks/main.yml": (
                 "- block:\n    - import_tasks: a.yml\n      tags: t\n"
                 "  rescue:\n    - command: /bin/false\n  when: outer\n"
                 "- import_tasks: b.yml\n  when: imp\n"),
             "roles/web/tasks/a.yml": "- name: in a\n  command: /bin/true\n  when: own\n",
             "roles/web/tasks/b.yml": "- block:\n    - name: in b\n      command: /bin/true\n"
                                      "  when: blk\n"}
    play = load_playbook(_book(tmp_path, files)).plays[0]
    first, second = play.roles[0][1].tasks
    (in_a,), (in_b,) = first.block, second.block
    assert (in_a.name, in_a.when, in_a.tags) == ("in a", ["outer", "own"], {"t"})
    assert first.rescue[0].when == ["outer"]
    assert (in_b.name, in_b.when) == ("in b", ["imp", "blk"])


def test_a_file_read_on_its_own_has_its_imports_expanded(tmp_path: Path) -> None:
    from orchestrator.load import yamlfile
    from orchestrator.load.tasks import parse_tasks

    _write = {"inc.yml": "- import_tasks: more.yml\n  tags: x\n",
              "more.yml": "- name: more\n  command: /bin/true\n"}
    for name, text in _write.items():
        (tmp_path / name).write_text(text)
    tasks = parse_tasks(yamlfile.load(tmp_path / "inc.yml"), path=str(tmp_path / "inc.yml"))
    assert [(t.name, t.tags) for t in tasks] == [("more", {"x"})]


def test_a_role_imported_twice_has_its_handlers_once_under_the_last_import(
        tmp_path: Path) -> None:
    # ansible-core 2.19 skips the handler here: the second import's `when` is the one it
    # carries (tests/conformance/cases/load-import runs the same on hosts)
    files = {"roles/db/tasks/main.yml": "- command: /bin/true\n  notify: db changed\n",
             "roles/db/handlers/main.yml": "- name: db changed\n  command: /bin/true\n",
             "site.yml": "- hosts: all\n  tasks:\n    - import_role: name=db\n"
                         "      when: first\n    - import_role: name=db\n      when: second\n"}
    play = load_playbook(_estate(tmp_path, files)).plays[0]
    assert [t.when for t in play.tasks] == [["first"], ["second"]]
    assert [(h.name, h.when) for h in play.all_handlers()] == [("db changed", ["second"])]
