"""Task loops as orc expands them, table-driven: each row a task's loop keywords, what each
iteration renders and the label its result shows, as ansible-core 2.19 gives them (from
ansible-playbook -c local on this machine). orc must give each row; when ansible-playbook is
installed, the oracle run checks that ansible-core still gives the table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.engine.options import RunOptions
from orchestrator.engine.run import run_playbook
from orchestrator.errors import InputError
from orchestrator.events import Event, OperationDone
from orchestrator.inventory import load_inventory
from orchestrator.lab import Lab
from orchestrator.load.loops import Loop, parse_loop
from orchestrator.load.playbook import load_playbook
from orchestrator.load.yamlfile import load as load_yaml
from orchestrator.templating.render import Variables, render_value
from tests.support.ansible_local import ANSIBLE_PLAYBOOK, run_local

VARIABLES = {
    "d": {"a": 1, "b": [2, 3]},
    "nested": [[1, [2]], 3],
    "l1": [1, 2],
    "users": [{"name": "al", "keys": ["k1", "k2"]}, {"name": "bo", "keys": ["k3"]}],
    "users2": [{"name": "al", "keys": ["k1"]}, {"name": "bo"}],
    "deep": [{"n": 1, "a": {"b": ["x", "y"]}}],
}
FAILS = "FAILED"
SKIPPED = "SKIPPED"  # an empty loop: the task is skipped


class Row:
    """One looped task: its keys (loop keyword, loop_control), the module it runs (which
    matters to `with_first_found`), what each iteration's `msg` renders, and the labels."""

    def __init__(self, name: str, keys: dict[str, Any], msgs: Any, labels: list[str] | None = None,
                 msg: str = "{{ item }}", action: str = "debug"):
        self.name, self.keys, self.msgs, self.labels = name, keys, msgs, labels
        self.msg, self.action = msg, action

    def __repr__(self) -> str:
        return self.name


ROWS = [
    Row("with_items flattens one level", {"with_items": [[1, [2, 3]], 4, [[5]]]},
        [1, [2, 3], 4, [5]], ["1", "[2, 3]", "4", "[5]"]),
    Row("loop does not flatten", {"loop": [[1, [2, 3]], 4]}, [[1, [2, 3]], 4]),
    Row("with_items of a string is one item", {"with_items": "{{ 'abc' }}"}, ["abc"]),
    Row("loop of a string fails", {"loop": "abc"}, FAILS),
    Row("with_items of a variable", {"with_items": "{{ nested }}"}, [1, [2], 3]),
    Row("with_items of a number", {"with_items": 5}, [5]),
    Row("with_list keeps the lists", {"with_list": [[1, 2], 3]}, [[1, 2], 3]),
    Row("with_dict gives key and value", {"with_dict": "{{ d }}"},
        [{"key": "a", "value": 1}, {"key": "b", "value": [2, 3]}],
        ["{'key': 'a', 'value': 1}", "{'key': 'b', 'value': [2, 3]}"]),
    Row("with_dict of a list of mappings", {"with_dict": [{"a": 1}, {"b": 2}]},
        [{"key": "a", "value": 1}, {"key": "b", "value": 2}]),
    Row("with_dict of numbers fails", {"with_dict": [1, 2]}, FAILS),
    Row("with_indexed_items", {"with_indexed_items": ["a", ["b", "c"]]},
        [[0, "a"], [1, "b"], [2, "c"]]),
    Row("with_sequence", {"with_sequence": "start=1 end=3 format=f%d"}, ["f1", "f2", "f3"]),
    Row("with_sequence of nothing skips", {"with_sequence": "count=0"}, SKIPPED),
    Row("with_sequence backwards needs a negative stride",
        {"with_sequence": "start=5 end=1"}, FAILS),
    Row("with_subelements", {"with_subelements": ["{{ users }}", "keys"]},
        [[{"name": "al"}, "k1"], [{"name": "al"}, "k2"], [{"name": "bo"}, "k3"]]),
    Row("with_subelements items in a template", {"with_subelements": ["{{ users }}", "keys"]},
        ["al=k1", "al=k2", "bo=k3"], msg="{{ item.0.name }}={{ item.1 }}"),
    Row("with_subelements skip_missing",
        {"with_subelements": ["{{ users2 }}", "keys", {"skip_missing": True}]},
        [[{"name": "al"}, "k1"]]),
    Row("with_subelements missing key fails", {"with_subelements": ["{{ users2 }}", "keys"]},
        FAILS),
    Row("with_subelements of a dotted key", {"with_subelements": ["{{ deep }}", "a.b"]},
        [[{"a": {}, "n": 1}, "x"], [{"a": {}, "n": 1}, "y"]]),
    Row("with_together pads with null", {"with_together": [[1, 2], ["a", "b", "c"]]},
        [[1, "a"], [2, "b"], [None, "c"]]),
    Row("with_together of nothing fails", {"with_together": "{{ [] }}"}, FAILS),
    Row("with_nested", {"with_nested": [[1, 2], ["a", "b"]]},
        [[1, "a"], [1, "b"], [2, "a"], [2, "b"]]),
    Row("with_nested of three", {"with_nested": [[1], ["a", "b"], ["x"]]},
        [[1, "a", "x"], [1, "b", "x"]]),
    Row("with_nested of a variable", {"with_nested": ["{{ l1 }}", ["a"]]},
        [[1, "a"], [2, "a"]]),
    Row("with_nested of nothing fails", {"with_nested": []}, FAILS),
    Row("with_fileglob", {"with_fileglob": ["*.conf"]}, ["{dir}/files/g1.conf"]),
    Row("with_fileglob with a directory", {"with_fileglob": ["sub/*.txt", "*.conf"]},
        ["{dir}/files/sub/s1.txt", "{dir}/files/g1.conf"]),
    Row("with_fileglob absolute", {"with_fileglob": ["{dir}/files/*.conf"]},
        ["{dir}/files/g1.conf"]),
    Row("with_first_found looks in files/", {"with_first_found": ["nope", "a.txt"]},
        ["{dir}/files/a.txt"]),
    Row("with_first_found drops undefined terms",
        {"with_first_found": ["{{ undefined_name }}", "a.txt"]}, ["{dir}/files/a.txt"]),
    Row("with_first_found of files and paths",
        {"with_first_found": [{"files": ["nope", "a.txt"], "paths": ["files"]}]},
        ["{dir}/files/a.txt"]),
    Row("with_first_found skip", {"with_first_found": [{"files": ["nope"], "skip": True}]},
        SKIPPED),
    Row("with_first_found of a mapping", {"with_first_found": {"files": ["nope", "a.txt"]}},
        ["{dir}/files/a.txt"]),
    Row("with_first_found nothing found fails", {"with_first_found": ["nope"]}, FAILS),
    Row("with_first_found for include_vars looks in vars/",
        {"with_first_found": ["nope.yml", "v.yml"]}, ["{dir}/vars/v.yml"],
        action="include_vars"),
    Row("with_first_found for a template looks in templates/",
        {"with_first_found": ["t.j2"]}, ["{dir}/templates/t.j2"], action="template"),
    Row("with_file", {"with_file": ["a.txt"]}, ["hello"]),
    Row("with_env", {"with_env": ["ORC_LOOP_SET"]}, ["set"]),
    Row("with_ansible.builtin.items", {"with_ansible.builtin.items": [1, [2]]}, [1, 2]),
    Row("an empty loop skips", {"loop": []}, SKIPPED),
    Row("extended", {"loop": ["a", "b", "c"], "loop_control": {"extended": True}}, [
        {"index": 1, "index0": 0, "first": True, "last": False, "length": 3, "revindex": 3,
         "revindex0": 2, "allitems": ["a", "b", "c"], "nextitem": "b"},
        {"index": 2, "index0": 1, "first": False, "last": False, "length": 3, "revindex": 2,
         "revindex0": 1, "allitems": ["a", "b", "c"], "nextitem": "c", "previtem": "a"},
        {"index": 3, "index0": 2, "first": False, "last": True, "length": 3, "revindex": 1,
         "revindex0": 0, "allitems": ["a", "b", "c"], "previtem": "b"}],
        msg="{{ ansible_loop }}"),
    Row("extended without allitems",
        {"loop": ["a", "b"], "loop_control": {"extended": True, "extended_allitems": False}}, [
            {"index": 1, "index0": 0, "first": True, "last": False, "length": 2,
             "revindex": 2, "revindex0": 1, "nextitem": "b"},
            {"index": 2, "index0": 1, "first": False, "last": True, "length": 2,
             "revindex": 1, "revindex0": 0, "previtem": "a"}],
        msg="{{ ansible_loop }}"),
    Row("index_var", {"loop": ["a", "b"], "loop_control": {"index_var": "i"}},
        ["0-a-i-item", "1-b-i-item"],
        msg="{{ i }}-{{ item }}-{{ ansible_index_var }}-{{ ansible_loop_var }}"),
    Row("loop_var and label", {"loop": ["a", "b"],
                               "loop_control": {"loop_var": "it", "label": "L{{ it }}"}},
        ["a-it", "b-it"], ["La", "Lb"], msg="{{ it }}-{{ ansible_loop_var }}"),
    Row("label with index_var", {"loop": [{"n": 1}, {"n": 2}], "loop_control": {
        "index_var": "i", "label": "{{ i }}:{{ item.n }}", "pause": 0.1}},
        [{"n": 1}, {"n": 2}], ["0:1", "1:2"]),
    Row("ansible_loop is not set without extended", {"loop": [1]}, ["no"],
        msg="{{ 'yes' if ansible_loop is defined else 'no' }}"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("loops")
    for name, text in {"files/a.txt": "hello\n", "files/g1.conf": "", "files/sub/s1.txt": "",
                       "vars/v.yml": "v: 1\n", "templates/t.j2": "t\n"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_LOOP_SET", "set")


def _dir(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{dir}", str(root))
    if isinstance(value, list):
        return [_dir(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _dir(v, root) for k, v in value.items()}
    return value


def _orc(row: Row, root: Path) -> tuple[Any, list[str]]:
    """What orc renders for each iteration of `row` (FAILED, SKIPPED), and the labels."""
    loop = parse_loop(_dir(row.keys, root), path="book.yaml", line=3, action=row.action)
    assert loop is not None
    variables = Variables({**VARIABLES, "playbook_dir": str(root)})
    try:
        items = loop.items(variables)
    except InputError as err:
        assert str(err).startswith("book.yaml:3: ") and "\n" not in str(err)
        return FAILS, []
    if not items:
        return SKIPPED, []
    msgs, labels = [], []
    for index, item in enumerate(items):
        scoped = variables.child(**loop.scope(index, item, items))
        msgs.append(render_value(row.msg, scoped) if row.action == "debug" else item)
        labels.append(str(loop.label(scoped)))
    return msgs, labels


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_a_loop_gives_what_ansible_gives(project: Path, row: Row) -> None:
    msgs, labels = _orc(row, project)
    assert msgs == _dir(row.msgs, project)
    if row.labels is not None:
        assert labels == row.labels


def _oracle(root: Path) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Each row's per-iteration values and labels as ansible-playbook gives them."""
    tasks: list[dict[str, Any]] = []
    values = []
    for i, row in enumerate(ROWS):
        if row.action == "debug":
            module: dict[str, Any] = {"debug": {"msg": row.msg}}
        elif row.action == "include_vars":
            module = {"include_vars": {"file": "{{ item }}", "name": f"loaded_{i}"}}
        else:
            module = {"template": {"src": "{{ item }}", "dest": str(root / f"out-{i}")}}
        tasks.append({"name": f"row {i}", **module, **_dir(row.keys, root),
                      "register": f"row_{i}", "ignore_errors": True})
        attribute = "msg" if row.action == "debug" else "item"
        values.append(
            f"'{i}': (row_{i} is failed) | ternary('{FAILS}', (row_{i} is skipped) | "
            f"ternary('{SKIPPED}', row_{i}.results | default([]) | "
            f"map(attribute='{attribute}') | list))")
    out = root / "out.json"
    tasks.append({"copy": {"dest": str(out),
                           "content": "{{ {" + ", ".join(values) + "} | to_json }}"}})
    done = run_local(root, tasks, VARIABLES)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    found = json.loads(out.read_text())
    labels: dict[str, list[str]] = {}
    current = None
    for line in done.stdout.splitlines():
        task = re.match(r"TASK \[row (\d+)\]", line)
        if task:
            current = task.group(1)
            labels[current] = []
        item = re.match(r"(?:ok|changed|skipping): \[localhost\] => \(item=(.*)\)( =>.*)?$",
                        line)
        if item and current is not None:
            labels[current].append(item.group(1))
    return ({row.name: found[str(i)] for i, row in enumerate(ROWS)},
            {row.name: labels.get(str(i), []) for i, row in enumerate(ROWS)})


@pytest.mark.skipif(not Path(ANSIBLE_PLAYBOOK).exists(),
                    reason="ansible-playbook is not installed")
def test_the_table_is_what_ansible_core_gives(project: Path) -> None:
    theirs, labels = _oracle(project)
    wrong = {}
    for row in ROWS:
        if theirs[row.name] != _dir(row.msgs, project):
            wrong[row.name] = (theirs[row.name], row.msgs)
        if row.labels is not None and labels[row.name] != row.labels:
            wrong[row.name + " (labels)"] = (labels[row.name], row.labels)
    assert not wrong, f"ansible-core differs from the table (theirs, table): {wrong}"


REFUSALS = [
    ("loop: [1]\n      with_items: [2]", 5, "duplicate loop in task: loop and with_items"),
    ("with_foo: [1]", 4, "unknown loop keyword 'with_foo': no lookup 'foo'"),
    ("with_itmes: [1]", 4, "did you mean 'with_items'"),
    ("loop: [1]\n      loop_control:\n        bogus: 1", 6, "loop_control: unknown key 'bogus'"),
    ("loop: [1]\n      loop_control: {pause: x}", 5,
     "loop_control: pause 'x' is not a number of seconds"),
    ("loop: [1]\n      loop_control: {index_var: 1}", 5,
     "loop_control: index_var 1 is not a variable name"),
    ("loop: [1]\n      loop_control: {extended: maybe}", 5, "loop_control: extended"),
    ("loop: [1]\n      loop_control: {break_when: [true]}", 5,
     "loop_control: break_when is not supported by orc"),
]


@pytest.mark.parametrize("keys, line, message", REFUSALS, ids=[r[2] for r in REFUSALS])
def test_a_bad_loop_is_refused_at_load_in_one_line_at_its_key(
        tmp_path: Path, keys: str, line: int, message: str) -> None:
    book = tmp_path / "book.yaml"
    book.write_text(f"- hosts: all\n  tasks:\n    - command: /bin/true\n      {keys}\n")
    with pytest.raises(InputError) as caught:
        load_playbook(book)
    text = str(caught.value)
    assert text.startswith(f"{book}:{line}: "), text
    assert message in text and "\n" not in text


def test_a_loaded_task_carries_its_loop(tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("- hosts: all\n  tasks:\n    - command: echo {{ item.key }}\n"
                    "      with_dict: '{{ d }}'\n"
                    "      loop_control: {index_var: i, pause: '{{ wait }}', label: x}\n")
    task = load_playbook(book).plays[0].tasks[0]
    assert isinstance(task.loop, Loop)
    assert (task.loop.keyword, task.loop.line, task.loop.index_var, task.loop.action) == (
        "with_dict", 4, "i", "command")
    assert task.loop.items(Variables({"d": {"k": 1}})) == [{"key": "k", "value": 1}]
    assert task.loop.pause(Variables({"wait": "1.5"})) == 1.5


@pytest.mark.lab
def test_a_paused_loop_waits_between_items_on_the_host(lab: Lab, lab_inventory: Path,
                                                         tmp_path: Path) -> None:
    """`pause` is an operation of its own between two items' operations, run with them."""
    book = tmp_path / "book.yaml"
    book.write_text(yaml.safe_dump([{"hosts": "all", "tasks": [{
        "name": "stamp", "command": "true", "loop": [1, 2, 3],
        "loop_control": {"pause": 0.2, "index_var": "i", "label": "{{ i }}"}}]}]))
    host = lab.hosts[0].name
    events: list[Event] = []
    run = run_playbook(load_playbook(book), load_inventory([str(lab_inventory)]),
                       RunOptions(limit=host), on_event=events.append)
    tasks = run.plays[0].hosts[host].tasks
    assert [(t.item, t.status) for t in tasks] == [(0, "changed"), (1, "changed"),
                                                   (2, "changed")]
    ops = [event.task for event in events if isinstance(event, OperationDone)]
    assert ops == ["stamp", "", "stamp", "", "stamp"]  # "": the pause, between the items


def test_the_yaml_loader_keeps_loop_keys_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("- command: /bin/true\n  with_items: [1]\n  loop_control:\n    label: y\n")
    raw = load_yaml(path)[0]
    loop = parse_loop(raw, path=str(path), line=raw.line, action="debug")
    assert loop is not None and (loop.line, loop.label_template) == (2, "y")


def test_a_loop_template_with_bad_syntax_is_refused_at_load(tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("- hosts: all\n  tasks:\n    - command: /bin/true\n"
                    "      with_items: '{{ names | }}'\n")
    with pytest.raises(InputError) as caught:
        load_playbook(book)
    assert str(caught.value).startswith(f"{book}:4: template syntax")
