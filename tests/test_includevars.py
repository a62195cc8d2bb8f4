"""include_vars read as ansible-core reads it: which files, in which order, under which name.

Unit cases on files written here, and one comparison with ansible-core itself on a directory
tree (order across subdirectories, depth, files_matching, ignore_files, name nesting)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.load.includevars import read, search_path, sources
from tests.support.ansible_local import run_local

WHERE = {"path": "roles/web/tasks/main.yml", "line": 3}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)


def _args(**given: Any) -> dict[str, Any]:
    """Arguments as the module's load-time check completes them (defaults filled in)."""
    return modules.lookup("include_vars", {}).normalise(given, {})


def test_relative_file_is_found_in_ansible_cores_order(tmp_path: Path) -> None:
    role, book = tmp_path / "roles/web", tmp_path
    task_file = role / "tasks/sub/t.yml"
    assert search_path(book, task_file, role) == [
        role / "vars", role, role / "tasks/sub/vars", role / "tasks/sub", book / "vars", book]
    assert search_path(book, book / "site.yml") == [book / "vars", book]
    search = search_path(book, task_file, role)
    _write(tmp_path, {"vars/os.yml": "where: playbook\n", "roles/web/tasks/sub/os.yml":
                      "where: task dir\n"})
    assert read(_args(file="os.yml"), search, WHERE) == {"where": "task dir"}
    _write(tmp_path, {"roles/web/vars/os.yml": "where: role vars\n"})
    assert read(_args(file="os.yml"), search, WHERE) == {"where": "role vars"}
    assert read(_args(_raw_params=str(tmp_path / "vars/os.yml")), search, WHERE) == {
        "where": "playbook"}


def test_name_nests_and_empty_and_json_files(tmp_path: Path) -> None:
    _write(tmp_path, {"a.yml": "x: 1\nm: {k: v}\n", "empty.yml": "", "j.json":
                      '{"j": [1, 2], "yes": "no"}'})
    search = [tmp_path]
    assert read(_args(file="a.yml", name="os_vars"), search, WHERE) == {
        "os_vars": {"x": 1, "m": {"k": "v"}}}
    assert read(_args(file="empty.yml"), search, WHERE) == {}
    assert read(_args(file="empty.yml", name="e"), search, WHERE) == {"e": {}}
    assert read(_args(file="j.json"), search, WHERE) == {"j": [1, 2], "yes": "no"}


@pytest.mark.parametrize("files, args, message", [
    ({}, {"file": "nope.yml"}, "include_vars: file 'nope.yml' not found (looked in"),
    ({"l.yml": "- 1\n"}, {"file": "l.yml"}, "l.yml:1: include_vars: expected a mapping"),
    ({"bad.yml": "a: [\n"}, {"file": "bad.yml"}, "bad.yml:2: invalid YAML"),
    ({}, {"dir": "nodir"}, "include_vars: dir 'nodir' not found"),
    ({"d/a.yml": "a: 1\n", "d/README": "x\n"}, {"dir": "d"},
     "d/README does not have one of the extensions json, yaml, yml"),
    ({"a.yml": ""}, {"file": "a.yml", "dir": "."}, "give `file` or `dir`, not both"),
    ({"a.yml": ""}, {"file": "a.yml", "depth": 2}, "depth only go with `dir`"),
    ({"d/a.yml": ""}, {"dir": "d", "files_matching": "("}, "files_matching '(' is not a "
                                                           "regular expression"),
    ({"a.yml": ""}, {}, "needs a file (free-form or `file`) or `dir`"),
    ({"a.yml": ""}, {"file": "a.yml", "hash_behaviour": "merge"}, "orc only replaces"),
])
def test_problems_are_one_line(tmp_path: Path, files: dict[str, str], args: dict[str, Any],
                               message: str) -> None:
    _write(tmp_path, files)
    with pytest.raises(InputError) as err:
        read(args, [tmp_path], WHERE)
    assert "\n" not in str(err.value) and message in str(err.value)
    if ":1: " not in message and ":2: " not in message:
        assert str(err.value).startswith("roles/web/tasks/main.yml:3: ")


def test_a_dir_of_files_later_replace_earlier(tmp_path: Path) -> None:
    _write(tmp_path, {"d/10-base.yml": "a: base\nb: {x: 1, y: 2}\n",
                      "d/20-site.yml": "b: {x: 3}\n", "d/notes.txt": "not vars\n"})
    args = _args(dir="d", ignore_unknown_extensions=True)
    assert read(args, [tmp_path], WHERE) == {"a": "base", "b": {"x": 3}}


# a tree where ansible-core's order is not the obvious one: root files first, hidden files
# read, directories in path-string order ("a-b" before "a/deep"), names case-sensitive
TREE = ["z.yml", "m.yaml", "a.json", "B.yml", ".dot.yml", "c.yml~", "README", "a/x.yml",
        "a/deep/y.yml", "a-b/q.yml", "b/r.yml", "b/ar.yml", ".hid/h.yml"]
CASES = [
    {"name": "all", "ignore_unknown_extensions": True},
    {"name": "depth1", "depth": 1, "ignore_unknown_extensions": True},
    {"name": "depth2", "depth": 2, "ignore_unknown_extensions": True},
    {"name": "matching", "files_matching": "^[a-m]", "ignore_unknown_extensions": True},
    {"name": "ignoring", "ignore_files": ["z.yml", "r.yml", "README"], "extensions": ["yml"],
     "ignore_unknown_extensions": True},
]


def test_dir_order_and_name_match_ansible_core(tmp_path: Path) -> None:
    for name in TREE:
        key = "k_" + "".join(c if c.isalnum() else "_" for c in name)
        text = (json.dumps({key: 1, "last": name}) if name.endswith(".json")
                else f"{key}: 1\nlast: {name}\n")
        _write(tmp_path / "v", {name: text})
    tasks: list[dict[str, Any]] = []
    for number, case in enumerate(CASES):
        tasks.append({"include_vars": {"dir": "v", **case}, "register": f"r{number}"})
    results = ", ".join(f"'{case['name']}': r{i}" for i, case in enumerate(CASES))
    tasks.append({"copy": {"dest": str(tmp_path / "out.json"),
                           "content": "{{ {" + results + "} | to_json }}"}})
    proc = run_local(tmp_path, tasks)
    assert proc.returncode == 0, proc.stdout[-2000:]
    seen = json.loads((tmp_path / "out.json").read_text())
    for case in CASES:
        result = seen[case["name"]]
        args = _args(dir="v", **case)
        files = [str(p.relative_to(tmp_path / "v")) for p in sources(args, [tmp_path], WHERE)]
        assert files == [p.removeprefix(str(tmp_path / "v") + "/")
                         for p in result["ansible_included_var_files"]], case
        ours = read(args, [tmp_path], WHERE)
        theirs = result["ansible_facts"]
        assert ours == theirs, case
        assert list(ours[case["name"]]) == list(theirs[case["name"]]), case  # key order too
