"""Ansible's lookups as orc runs them, table-driven: each row an expression and the value
ansible-core 2.19 gives for it (obtained with ansible-playbook -c local on this machine). The
table is checked twice: orc must give each value, and, when ansible-playbook is installed, so
must ansible-core still (the oracle run), so the table cannot drift from Ansible."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook
from orchestrator.templating.lookups import LookupFailed, candidates, run
from orchestrator.templating.render import Variables, render_value
from tests.support.ansible_local import ANSIBLE_PLAYBOOK, run_local

VARIABLES = {
    "v": 5,
    "d": {"a": 1, "b": [2, 3]},
    "users": [{"name": "al", "keys": ["k1", "k2"]}, {"name": "bo", "keys": ["k3"]}],
    "deep": [{"n": 1, "a": {"b": ["x", "y"]}}],
    # a list of its own per row: ansible-core's subelements takes the key out of the
    # caller's data, which the next row of the same oracle template would see
    "users2": [{"name": "al", "keys": ["k1"]}, {"name": "bo"}],
}


class Fails:
    """A row whose lookup fails in both; orc's one-line message contains `text`."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return f"Fails({self.text!r})"


# (expression, ansible-core 2.19's value); "{dir}" is the playbook's directory
PLAY_CASES: list[tuple[str, Any]] = [
    ("lookup('file', 'a.txt')", "hello"),
    ("lookup('file', 'a.txt', 'b.txt')", "hello,x"),
    ("query('file', 'a.txt', 'b.txt')", ["hello", "x"]),
    ("lookup('file', 'b.txt', rstrip=false)", "x\n\n"),
    ("lookup('file', 'pad.txt', lstrip=true)", "padded"),
    ("lookup('file', 'files/a.txt')", "hello"),
    ("lookup('file', 'nope.txt', errors='ignore')", None),
    ("query('file', 'nope.txt', errors='ignore')", []),
    ("lookup('file', 'nope.txt', errors='warn')", None),
    ("lookup('file', 'nope.txt')", Fails("could not find 'nope.txt'")),
    ("lookup('template', 't.j2')", "tpl 5\n"),
    ("lookup('template', 't2.j2')", "x5\n\n"),
    ("query('template', 't2.j2')", ["x5\n\n"]),
    ("lookup('template', 'native.j2')", [1, 2]),
    ("query('template', 'native.j2')", [[1, 2]]),
    ("lookup('template', 't.j2', template_vars={'v': 9})", "tpl 9\n"),
    ("lookup('template', 'block.j2')", "a\nb\n"),
    ("lookup('template', 'block.j2', trim_blocks=false)", "\na\n\n\nb\n"),
    ("lookup('env', 'ORC_LOOKUP_SET', 'ORC_LOOKUP_UNSET')", "set,"),
    ("query('env', 'ORC_LOOKUP_SET', 'ORC_LOOKUP_UNSET')", ["set", ""]),
    ("lookup('env', 'ORC_LOOKUP_UNSET', default='dd')", "dd"),
    ("lookup('ansible.builtin.env', 'ORC_LOOKUP_SET')", "set"),
    ("lookup('env', 'ORC_LOOKUP_SET', wantlist=true)", ["set"]),
    ("lookup('fileglob', '*.conf')", "{dir}/files/g1.conf"),
    ("query('fileglob', '*.conf', '*.nope')", ["{dir}/files/g1.conf"]),
    ("lookup('fileglob', '*.nope')", []),
    ("query('fileglob', 'sub/*.txt')", ["{dir}/files/sub/s1.txt"]),
    ("query('fileglob', '{dir}/sub/*')", ["{dir}/sub/s2.txt"]),
    ("query('fileglob', 'only*')", ["{dir}/only_top.txt"]),
    ("query('fileglob', 'd*')", []),
    ("lookup('pipe', 'echo hi; echo there')", "hi\nthere"),
    ("query('pipe', 'echo a', 'echo b')", ["a", "b"]),
    ("lookup('pipe', 'pwd')", "{dir}"),
    ("lookup('pipe', 'exit 3')", Fails("returned 3")),
    ("lookup('vars', 'd')", {"a": 1, "b": [2, 3]}),
    ("lookup('vars', 'v', 'd')", [5, {"a": 1, "b": [2, 3]}]),
    ("query('vars', 'd', 'v')", [{"a": 1, "b": [2, 3]}, 5]),
    ("lookup('vars', 'nope', default=7)", 7),
    ("lookup('vars', 'nope')", Fails("no variable named 'nope'")),
    ("lookup('varnames', '^u', '^d$')", "users,users2,d"),
    ("query('varnames', '^us')", ["users", "users2"]),
    ("lookup('varnames', 'v[')", Fails("unable to use 'v['")),
    ("lookup('items', [1, [2, 3]], 4)", [1, [2, 3], 4]),
    ("query('items', [1, [2, [3]]], 4)", [1, [2, [3]], 4]),
    ("lookup('items', [5])", 5),
    ("lookup('items', ['a', 1])", ["a", 1]),
    ("lookup('items', ['a', 'b'])", "a,b"),
    ("lookup('items')", []),
    ("lookup('list', [1, [2, 3]], 4)", [[1, [2, 3]], 4]),
    ("lookup('list', ['a'])", ["a"]),
    ("query('dict', d)", [{"key": "a", "value": 1}, {"key": "b", "value": [2, 3]}]),
    ("lookup('dict', d)", [{"key": "a", "value": 1}, {"key": "b", "value": [2, 3]}]),
    ("query('dict', 1)", Fails("expects a dictionary")),
    ("query('indexed_items', ['a', 'b'])", [[0, "a"], [1, "b"]]),
    ("lookup('indexed_items', ['a'])", [0, "a"]),
    ("query('sequence', 'start=1 end=5 stride=2 format=n%02d')", ["n01", "n03", "n05"]),
    ("query('sequence', 'count=3')", ["1", "2", "3"]),
    ("lookup('sequence', '5-8')", "5,6,7,8"),
    ("query('sequence', '4:host%02d')", ["host01", "host02", "host03", "host04"]),
    ("query('sequence', start=0, end=10, stride=5)", ["0", "5", "10"]),
    ("query('sequence', 'start=10 end=0 stride=-5')", ["10", "5", "0"]),
    ("lookup('sequence', 'start=1 end=3 stride=0')", []),
    ("lookup('sequence', 'count=3 stride=2 start=5')", "5,7,9"),
    ("lookup('sequence', 'start=1 end=3', 'start=7 end=8')", "1,2,3,7,8"),
    ("lookup('sequence', 'start=5 end=1')", Fails("to count backwards make stride negative")),
    ("query('sequence', '2-4/2')", ["2", "4"]),
    ("query('sequence', '3:%x')", ["1", "2", "3"]),
    ("query('sequence', 'end=3 format=%s-x')", ["1-x", "2-x", "3-x"]),
    ("query('sequence', '4-2/-1')", Fails("can't parse arg '4-2/-1'")),
    ("query('sequence', '-3')", Fails("can't parse arg '-3'")),
    ("query('sequence', 'start=1 count=2 end=4')", Fails("can't use both count and end")),
    ("query('sequence', 'start=1')", Fails("must specify count or end")),
    ("query('subelements', users, 'keys')",
     [[{"name": "al"}, "k1"], [{"name": "al"}, "k2"], [{"name": "bo"}, "k3"]]),
    ("query('subelements', deep, 'a.b')",
     [[{"n": 1, "a": {}}, "x"], [{"n": 1, "a": {}}, "y"]]),
    ("query('subelements', users2, 'keys', {'skip_missing': true})",
     [[{"name": "al"}, "k1"]]),
    ("query('subelements', users + [{'name': 'cy'}], 'keys')",
     Fails("could not find 'keys' key")),
    ("query('together', [1, 2, 3], ['a', 'b'])", [[1, "a"], [2, "b"], [3, None]]),
    ("lookup('together', [1, 2])", [[1], [2]]),
    ("query('nested', [1, 2], ['a', 'b'])", [[1, "a"], [1, "b"], [2, "a"], [2, "b"]]),
    ("query('nested', [1], ['a', 'b'], ['x'])", [[1, "a", "x"], [1, "b", "x"]]),
    ("lookup('nested', [1, 2])", Fails("not iterable")),
    # first_found in a template looks beside the playbook, not in files/ (ansible-core 2.19)
    ("lookup('first_found', 'nope.txt', 'top.txt')", "{dir}/top.txt"),
    ("lookup('first_found', 'a.txt')", Fails("no file was found")),
    ("lookup('first_found', 'files/a.txt')", "{dir}/files/a.txt"),
    ("lookup('first_found', '{dir}/files/a.txt')", "{dir}/files/a.txt"),
    ("lookup('first_found', {'files': ['nope', 'a.txt'], 'paths': ['files']})",
     "{dir}/files/a.txt"),
    ("lookup('first_found', 'nope,top.txt')", "{dir}/top.txt"),
    ("lookup('first_found', files=['nope', 'top.txt'])", "{dir}/top.txt"),
    ("query('first_found', ['nope.txt', 'top.txt'])", ["{dir}/top.txt"]),
    ("query('first_found', 'nope', skip=true)", []),
    ("lookup('first_found', 'nope', skip=true)", []),
    ("lookup('first_found', 'nope', errors='ignore')", None),
    ("lookup('nosuch', 'x')", Fails("no such lookup")),
]

# the same lookups from a role's task: the role's directories come first
ROLE_CASES: list[tuple[str, Any]] = [
    ("lookup('file', 'only_rf.txt')", "role-files"),
    ("lookup('file', 'only_rr.txt')", "role-root"),
    ("lookup('file', 'only_rt.txt')", "role-tasks"),
    ("lookup('file', 'only_rtf.txt')", "role-tasks-files"),
    ("lookup('file', 'a.txt')", "hello"),
    ("lookup('file', 'top.txt')", "top"),
    ("lookup('file', 'both.txt')", "role-files-both"),
    ("lookup('file', 'rr_vs_pf.txt')", "role-root"),
    ("lookup('template', 'rt.j2')", "rt 1\n"),
    ("lookup('template', 't.j2')", "tpl 5\n"),
    ("query('fileglob', '*.cfg')", ["{dir}/roles/r/files/rg1.cfg"]),
    ("query('fileglob', '*.conf')", ["{dir}/files/g1.conf"]),
    ("query('first_found', 'only_rr.txt', 'top.txt')", ["{dir}/roles/r/only_rr.txt"]),
    ("query('first_found', 'only_rf.txt', errors='ignore')", []),
    ("query('first_found', 'top.txt')", ["{dir}/top.txt"]),
    ("query('first_found', 'vars/rv.yml')", ["{dir}/roles/r/vars/rv.yml"]),
    ("query('first_found', files=['rv.yml'], paths=['vars'])", ["{dir}/roles/r/vars/rv.yml"]),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A playbook directory with files/, templates/ and a role r, as the tables expect."""
    root = tmp_path_factory.mktemp("lookups")
    files = {
        "files/a.txt": "hello  \n", "files/b.txt": "x\n\n", "files/pad.txt": " \n padded\n",
        "files/g1.conf": "", "files/sub/s1.txt": "", "sub/s2.txt": "", "top.txt": "top\n",
        "only_top.txt": "", "files/both.txt": "pb-files-both\n",
        "files/rr_vs_pf.txt": "pb-files\n",
        "templates/t.j2": "tpl {{ v }}\n", "templates/t2.j2": "x{{ v }}\n\n",
        "templates/native.j2": "{{ [1, 2] }}\n",
        "templates/block.j2": "{% if true %}\na\n{% endif %}\n{% if true %}\nb\n{% endif %}\n",
        "roles/r/files/only_rf.txt": "role-files\n", "roles/r/only_rr.txt": "role-root\n",
        "roles/r/tasks/only_rt.txt": "role-tasks\n",
        "roles/r/tasks/files/only_rtf.txt": "role-tasks-files\n",
        "roles/r/files/both.txt": "role-files-both\n", "roles/r/rr_vs_pf.txt": "role-root\n",
        "roles/r/templates/rt.j2": "rt {{ 1 }}\n", "roles/r/files/rg1.cfg": "",
        "roles/r/vars/rv.yml": "rv: 1\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "files" / "dir.d").mkdir()
    return root


def _expected(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{dir}", str(root))
    if isinstance(value, list):
        return [_expected(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _expected(v, root) for k, v in value.items()}
    return value


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_LOOKUP_SET", "set")
    monkeypatch.delenv("ORC_LOOKUP_UNSET", raising=False)


def _orc(expression: str, root: Path, role: bool) -> Any:
    data = {**VARIABLES, "playbook_dir": str(root)}
    if role:
        data["role_path"] = str(root / "roles" / "r")
    return render_value("{{ " + expression.replace("{dir}", str(root)) + " }}",
                        Variables(data), "book.yaml:3")


def _check(expression: str, expected: Any, root: Path, role: bool) -> None:
    if isinstance(expected, Fails):
        with pytest.raises(InputError) as caught:
            _orc(expression, root, role)
        assert expected.text in str(caught.value)
        assert str(caught.value).startswith("book.yaml:3: ")
        assert "\n" not in str(caught.value)
    else:
        assert _orc(expression, root, role) == _expected(expected, root)


@pytest.mark.parametrize("expression, expected", PLAY_CASES, ids=[c[0] for c in PLAY_CASES])
def test_a_lookup_in_a_play_gives_ansibles_value(project: Path, expression: str,
                                                 expected: Any) -> None:
    _check(expression, expected, project, role=False)


@pytest.mark.parametrize("expression, expected", ROLE_CASES, ids=[c[0] for c in ROLE_CASES])
def test_a_lookup_in_a_role_searches_the_role_first(project: Path, expression: str,
                                                    expected: Any) -> None:
    _check(expression, expected, project, role=True)


def _oracle(root: Path, cases: list[tuple[str, Any]], role: bool) -> dict[str, Any]:
    """Each expression's value as ansible-playbook gives it ("FAILED" when it failed): the
    rows that fail are a `debug` task each (ignoring errors), the others one `copy` task."""
    out = root / ("out-role.json" if role else "out-play.json")
    tasks: list[dict[str, Any]] = []
    values = []
    for i, (expression, expected) in enumerate(cases):
        text = expression.replace("{dir}", str(root))
        if isinstance(expected, Fails):
            tasks.append({"name": f"case {i}", "debug": {"msg": "{{ " + text + " }}"},
                          "register": f"case_{i}", "ignore_errors": True})
            values.append(f"'{i}': (case_{i} is failed) | ternary('FAILED', 'ran')")
        else:
            values.append(f"'{i}': ({text})")
    tasks.append({"copy": {"dest": str(out),
                           "content": "{{ {" + ", ".join(values) + "} | to_json }}"}})
    if role:
        (root / "roles" / "r" / "tasks" / "main.yml").write_text(yaml.safe_dump(tasks))
        tasks = [{"include_role": {"name": "r"}}]
    done = run_local(root, tasks, {**VARIABLES})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    found = json.loads(out.read_text())
    return {expression: found[str(i)] for i, (expression, _) in enumerate(cases)}


def _has_ansible() -> bool:
    return Path(ANSIBLE_PLAYBOOK).exists()


@pytest.mark.skipif(not _has_ansible(), reason="ansible-playbook is not installed")
@pytest.mark.parametrize("role", [False, True], ids=["play", "role"])
def test_the_tables_are_what_ansible_core_gives(project: Path, role: bool) -> None:
    cases = ROLE_CASES if role else PLAY_CASES
    assert os.environ.get("ORC_LOOKUP_SET") == "set"  # seen by ansible-playbook too
    theirs = _oracle(project, cases, role)
    wrong = {}
    for expression, expected in cases:
        want = "FAILED" if isinstance(expected, Fails) else _expected(expected, project)
        if theirs[expression] != want:
            wrong[expression] = (theirs[expression], want)
    assert not wrong, f"ansible-core differs from the table (theirs, table): {wrong}"


def test_a_lookup_refuses_an_option_it_does_not_have(project: Path) -> None:
    with pytest.raises(LookupFailed) as caught:
        run("file", ["a.txt"], {"playbook_dir": str(project)}, rstirp=False)
    assert "unknown option 'rstirp'" in caught.value.message


def test_the_search_path_is_role_then_its_tasks_then_the_playbook(tmp_path: Path) -> None:
    found = candidates({"role_path": "/p/roles/r", "playbook_dir": "/p"}, "files", "x.txt")
    assert [str(p) for p in found] == [
        "/p/roles/r/files/x.txt", "/p/roles/r/x.txt", "/p/roles/r/tasks/files/x.txt",
        "/p/roles/r/tasks/x.txt", "/p/files/x.txt", "/p/x.txt"]
    assert [str(p) for p in candidates({"playbook_dir": "/p"}, "files", "files/x")] == [
        "/p/files/x"]


def test_a_lookup_in_a_task_argument_runs_per_host(project: Path, tmp_path: Path) -> None:
    """Through a loaded playbook: a `lookup()` in a task's argument is a jinja2 global there
    too, and a missing file fails at the task's line."""
    book = project / "book-lookup.yaml"
    book.write_text("- hosts: all\n  tasks:\n    - copy:\n        dest: /tmp/x\n"
                    "        content: \"{{ lookup('file', 'nope.txt') }}\"\n")
    play = load_playbook(book).plays[0]
    task = play.tasks[0]
    with pytest.raises(InputError) as caught:
        render_value(task.args, Variables({"playbook_dir": str(project)}), task.where)
    assert str(caught.value).startswith(f"{book}:3: lookup('file'): could not find 'nope.txt'")
