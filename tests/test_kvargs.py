"""Free-form `key=value` arguments read as Ansible reads them.

The expected mappings below are what ansible-core 2.19 hands a module for each string (read
back from a module that echoes its arguments, and from `shell`'s invocation at -vvv);
`test_the_table_is_what_ansible_core_reads` runs ansible-core over the whole table again, so
the table cannot drift from the oracle. Values holding Jinja are compared after rendering.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.load.kvargs import RAW_PARAMS, parse_kv, split_args
from orchestrator.load.playbook import load_playbook
from orchestrator.modules.base import HostContext
from orchestrator.modules.commands import COMMAND_OPTIONS
from orchestrator.templating.render import render_value

RAW = "raw params"  # Ansible refuses free-form words for a module that takes none

KV_CASES: list[tuple[str, Any]] = [
    ("a=1 b=2", {"a": "1", "b": "2"}),
    ("a=1  b=2", {"a": "1", "b": "2"}),
    ("update_cache=yes cache_valid_time=86400",
     {"update_cache": "yes", "cache_valid_time": "86400"}),
    ("name=nginx state=restarted", {"name": "nginx", "state": "restarted"}),
    ("msg='hello world'", {"msg": "hello world"}),
    ('msg="hello world"', {"msg": "hello world"}),
    ("msg='it''s'", {"msg": "it''s"}),
    ('msg="a \\"b\\" c"', {"msg": 'a "b" c'}),
    ("msg=a\\=b", {"msg": "a\\=b"}),
    ("a\\=b=c", {"a\\=b": "c"}),
    ("msg=\\=x", {"msg": "\\=x"}),
    ("k = v", RAW),
    ("k= v", RAW),
    ("msg='a  b'", {"msg": "a  b"}),
    ("msg='x'y", {"msg": "'x'y"}),
    ("msg=x'y z'", {"msg": "x'y z'"}),
    ("msg=tab\\there", {"msg": "tab\there"}),
    ("msg=line\\nbreak", {"msg": "line\nbreak"}),
    ("msg=\\x41\\u00e9", {"msg": "A\u00e9"}),
    ("msg=a\\\\b", {"msg": "a\\b"}),
    ("path=/tmp/x mode=0644", {"path": "/tmp/x", "mode": "0644"}),
    ("a=1 a=2", {"a": "2"}),
    ("a=", {"a": ""}),
    ("a='' b=\"\"", {"a": "", "b": ""}),
    ("a=1\nb=2", {"a": "1", "b": "2"}),
    ("a=1 \\\nb=2", {"a": "1", "b": "2"}),
    ("msg={{ 'a b' }}", {"msg": "a b"}),
    ("msg=\"{{ 'x=y' }}\"", {"msg": "x=y"}),
    ("msg={% if true %}yes{% endif %}", {"msg": "yes"}),
    ("msg=x{# a comment #}", {"msg": "x"}),
    ("msg={{ 'a' }}{{ 'b' }} c=d", {"msg": "ab", "c": "d"}),
    ("=x a=1", RAW),
    ("msg=\u00e9", {"msg": "\u00e9"}),
]

# shell's free-form text: the command stays as written but for its own `key=` options
COMMAND_CASES: list[tuple[str, dict[str, str]]] = [
    ("echo hi", {RAW_PARAMS: "echo hi"}),
    ("echo  hi", {RAW_PARAMS: "echo  hi"}),
    ("echo hi creates=/nonexistent-g5 chdir=/tmp",
     {RAW_PARAMS: "echo hi", "chdir": "/tmp", "creates": "/nonexistent-g5"}),
    ("echo hi  creates=/nonexistent-g5", {RAW_PARAMS: "echo hi ", "creates": "/nonexistent-g5"}),
    ("chdir=/tmp echo a=b", {RAW_PARAMS: "echo a=b", "chdir": "/tmp"}),
    ("echo 'a  b' removes=/", {RAW_PARAMS: "echo 'a  b'", "removes": "/"}),
    ("echo \"it's\" executable=/bin/sh", {RAW_PARAMS: "echo \"it's\"", "executable": "/bin/sh"}),
    ("echo a\\=b", {RAW_PARAMS: "echo a=b"}),
    ("echo x stdin=hello", {RAW_PARAMS: "echo x", "stdin": "hello"}),
    ("echo \\t x", {RAW_PARAMS: "echo \\t x"}),
    ("echo {{ 'a  b' }} chdir=/tmp", {RAW_PARAMS: "echo a  b", "chdir": "/tmp"}),
    ("echo a\necho b", {RAW_PARAMS: "echo a\necho b"}),
    ("echo a\n  echo b", {RAW_PARAMS: "echo a\n  echo b"}),
    ("echo a\n echo b", {RAW_PARAMS: "echo a\necho b"}),
    ("echo a \\\necho b", {RAW_PARAMS: "echo a echo b"}),
    ("echo a=b c=d", {RAW_PARAMS: "echo a=b c=d"}),
    ("echo 'chdir=/x'", {RAW_PARAMS: "echo 'chdir=/x'"}),
    ("echo x chdir='/tmp'", {RAW_PARAMS: "echo x", "chdir": "/tmp"}),
]


def _ours(text: str, command: bool) -> Any:
    parsed = parse_kv(text, raw_options=COMMAND_OPTIONS if command else None)
    if not command and RAW_PARAMS in parsed:
        return RAW
    return render_value(parsed, {}, "test")


@pytest.mark.parametrize("text, expected", KV_CASES)
def test_key_value_words(text: str, expected: Any) -> None:
    assert _ours(text, command=False) == expected


@pytest.mark.parametrize("text, expected", COMMAND_CASES)
def test_command_line_keeps_its_text(text: str, expected: dict[str, str]) -> None:
    assert _ours(text, command=True) == expected


# a module that answers with the arguments Ansible gave it (an old-style WANT_JSON module)
ECHO_MODULE = """#!/usr/bin/python
# WANT_JSON
import json, sys
with open(sys.argv[1]) as f:
    args = json.load(f)
print(json.dumps({"changed": False,
                  "echo": {k: v for k, v in args.items() if not k.startswith("_ansible")}}))
"""


def test_the_table_is_what_ansible_core_reads(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "echo_args").write_text(ECHO_MODULE)
    (tmp_path / "library" / "echo_args").chmod(0o755)
    tasks = ([{"echo_args": text, "ignore_errors": True} for text, _ in KV_CASES]
             + [{"shell": text, "ignore_errors": True} for text, _ in COMMAND_CASES])
    book = tmp_path / "oracle.yaml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                     "tasks": tasks}], allow_unicode=True))
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_DEPRECATION_WARNINGS": "false", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t")}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c",
         "local", "-vvv", str(book), "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    decoder = json.JSONDecoder()
    results = [decoder.raw_decode(proc.stdout, m.end())[0] for m in re.finditer(
        r"^(?:ok|changed|fatal|skipping): \[localhost\][^\n]*?=> ", proc.stdout, re.M)]
    assert len(results) == len(tasks), proc.stdout[-2000:] + proc.stderr[-2000:]
    for (text, expected), result in zip(KV_CASES, results):
        seen = result["echo"] if "echo" in result else (
            RAW if "does not support raw params" in result.get("msg", "") else result)
        assert seen == expected, text
    for (text, expected), result in zip(COMMAND_CASES, results[len(KV_CASES):]):
        module_args = result["invocation"]["module_args"]
        seen = {k: v for k, v in module_args.items() if k in expected}
        assert seen == expected, text


@pytest.mark.parametrize("text", ["msg='abc", "msg={{ x", "a={% if x", "msg=\"a 'b", "a={# c"])
def test_unbalanced_string_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        split_args(text)


def _book(tmp_path: Path, tasks: str) -> Path:
    book = tmp_path / "site.yaml"
    book.write_text("- hosts: all\n  tasks:\n" + tasks)
    return book


def test_free_form_arguments_load_with_the_modules_types(tmp_path: Path) -> None:
    book = _book(tmp_path, (
        "    - apt: update_cache=yes cache_valid_time=86400\n"
        "    - service: name=nginx state=restarted\n"
        "    - file: path=/tmp/x state=directory mode=0755\n"
        "    - command: /usr/bin/make install chdir=/src creates=/usr/bin/x\n"
        "    - shell: cat stdin='a b' stdin_add_newline=no\n"
        "      args:\n        chdir: /srv\n"
        "    - copy: content='{{ x }} y' dest=/tmp/y\n"
        "      args:\n        dest: /tmp/loses\n        mode: '0600'\n"))
    tasks = load_playbook(book).plays[0].tasks
    apt, service, file_, command, shell, copy = (t.args for t in tasks)
    assert apt["update_cache"] is True and apt["cache_valid_time"] == 86400
    assert (service["name"], service["state"]) == ("nginx", "restarted")
    assert (file_["path"], file_["state"], file_["mode"]) == ("/tmp/x", "directory", "0755")
    assert (command["cmd"], command["chdir"], command["creates"]) == (
        "/usr/bin/make install", "/src", "/usr/bin/x")
    assert (shell["cmd"], shell["stdin"], shell["stdin_add_newline"], shell["chdir"]) == (
        "cat", "a b", False, "/srv")
    # what the module's line says wins over `args:`, as in ansible-core
    assert (copy["content"], copy["dest"], copy["mode"]) == ("{{ x }} y", "/tmp/y", "0600")


@pytest.mark.parametrize("tasks, message", [
    ("    - service: name=nginx state=runing\n",
     "site.yaml:3: service: state='runing' is not one of"),
    ("    - service: name='nginx\n",
     "site.yaml:3: cannot read the key=value arguments: unbalanced quotes"),
    ("    - apt: nginx\n",
     "site.yaml:3: apt takes key=value arguments, not free-form text ('nginx' has no '=')"),
    ("    - apt: update_cache=maybe\n",
     "site.yaml:3: apt: argument 'update_cache' expects a boolean"),
    ("    - service: nmae=nginx\n",
     "site.yaml:3: service has no argument 'nmae' (did you mean 'name'?)"),
    ("    - command: ls warn=no\n", "site.yaml:3: command has no argument 'warn'"),
    ("    - shell: echo \\xZZ=1 chdir=\\xZZ\n", "site.yaml:3: cannot read the key=value"),
])
def test_malformed_free_form_is_one_line(tmp_path: Path, tasks: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        load_playbook(_book(tmp_path, tasks))
    text = str(err.value)
    assert "\n" not in text and text.startswith(str(tmp_path)) and message in text


def test_stdin_is_fed_to_the_command() -> None:
    build = modules.lookup("shell", {}).build
    args = modules.lookup("shell", {}).normalise("tr a-z A-Z stdin='x y'", {})
    calls = build(args, HostContext(None, {}))
    line = calls[0].kwargs["commands"][0]
    proc = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True)
    assert proc.stdout == "X Y\n"
    args = modules.lookup("shell", {}).normalise("tr a-z A-Z stdin=q stdin_add_newline=no", {})
    line = build(args, HostContext(None, {}))[0].kwargs["commands"][0]
    proc = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True)
    assert proc.stdout == "Q"


def test_action_names_the_module_and_its_arguments(tmp_path: Path) -> None:
    # ansible-core 2.19 reads these as echo-module arguments {a: "1", b: "x y"}, {a: 2} and
    # {a: "3", c: 4} (the same oracle as the table)
    book = _book(tmp_path, (
        "    - action: service name=nginx state='restarted'\n"
        "    - action: {module: service, name: nginx, enabled: 'yes'}\n"
        "    - action: command   /bin/true chdir=/tmp\n"
        "      args: {creates: /x}\n"))
    service, mapping, command = load_playbook(book).plays[0].tasks
    assert (service.module.name, service.args["name"], service.args["state"]) == (
        "service", "nginx", "restarted")
    assert (mapping.module.name, mapping.args["enabled"]) == ("service", True)
    assert (command.module.name, command.args["cmd"], command.args["chdir"],
            command.args["creates"]) == ("command", "/bin/true", "/tmp", "/x")


@pytest.mark.parametrize("task, message", [
    ("    - action: 'servce name=x'\n", "site.yaml:3: unknown module 'servce'"),
    ("    - action: \"service name='x\"\n", "site.yaml:3: action: unbalanced quotes"),
    ("    - action: {name: x}\n", "site.yaml:3: action: expected 'MODULE key=value"),
    ("    - action: ''\n", "site.yaml:3: action: expected 'MODULE key=value"),
])
def test_a_bad_action_is_one_line(tmp_path: Path, task: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        load_playbook(_book(tmp_path, task))
    assert "\n" not in str(err.value) and message in str(err.value)


def test_creates_and_removes_are_checked_from_chdir() -> None:
    # the command module changes to chdir before it looks (load-key-value checks it on hosts)
    from orchestrator.modules.commands import _beside

    assert [_beside(p, d) for p, d in (("x", "/srv"), ("/abs", "/srv"), ("z", None))] == [
        "/srv/x", "/abs", "z"]
