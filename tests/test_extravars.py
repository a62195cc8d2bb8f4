"""`-e` as ansible-playbook reads it: key=value pairs stay strings, files and JSON are typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.load.extravars import parse_extra_vars, parse_one
from tests.support.ansible_local import run_local


@pytest.mark.parametrize("argument, expected", [
    ("ver=1.10", {"ver": "1.10"}),
    ("flag=false", {"flag": "false"}),
    ("mode=0644", {"mode": "0644"}),
    ("ok=yes", {"ok": "yes"}),
    ("empty=", {"empty": ""}),
    ("x=a=b", {"x": "a=b"}),
    ("a=1 b=2", {"a": "1", "b": "2"}),
    ('a="x y" b=c', {"a": "x y", "b": "c"}),
    ("u='quoted'", {"u": "quoted"}),
    ("q='a\\'b'", {"q": "a'b"}),
    ('m=x"y"z', {"m": 'x"y"z'}),
    ("t=a\\tb", {"t": "a\tb"}),
    ("n=a\\nb", {"n": "a\nb"}),
    ("s=a\\\\b", {"s": "a\\b"}),
    ("j={{ 1 + 1 }} k=2", {"j": "{{ 1 + 1 }}", "k": "2"}),
    ('{"n": 1.10, "l": [1, "2"], "f": false}', {"n": 1.1, "l": [1, "2"], "f": False}),
    ("{n: 0644, y: yes}", {"n": 420, "y": True}),
])
def test_forms(argument: str, expected: dict) -> None:
    assert parse_one(argument) == expected


def test_files_are_typed_and_later_arguments_win(tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text("release: 1.10\ndebug: false\numask: 0644\nports: [80]\n")
    (tmp_path / "v.json").write_text('{"release": "2.0", "extra": null}')
    assert parse_extra_vars([f"@{tmp_path / 'v.yaml'}", f"@{tmp_path / 'v.json'}",
                             "debug=true"]) == {
        "release": "2.0", "debug": "true", "umask": 420, "ports": [80], "extra": None}


@pytest.mark.parametrize("argument, message", [
    ("[1, 2]", "not a mapping"),
    ("novalue", "is not key=value"),
    ("a=1 stray", "'stray' is not key=value"),
    ("a='open", "quote is not closed"),
    ("./vars.yaml", "write -e @./vars.yaml"),
    ("@/nonexistent/vars.yaml", "vars.yaml: does not exist"),
])
def test_refusals(argument: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_one(argument)


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(InputError, match="holds a list, not a mapping"):
        parse_one(f"@{tmp_path / 'list.yaml'}")


ORACLE_ARGS = ["ver=1.10", "flag=false", "mode=0644", "ok=yes", "empty=",
               "pair='it is' other=\"x y\"", "tab=a\\tb", '{"typed": 1.10, "list": [1, "2"]}',
               "@vars.yaml"]
NAMES = ["ver", "flag", "mode", "ok", "empty", "pair", "other", "tab", "typed", "list",
         "release", "debug", "umask"]


def test_same_values_and_types_as_ansible_playbook(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vars.yaml").write_text("release: 1.10\ndebug: false\numask: 0644\n")
    expression = "{{ [" + ", ".join(f"[{n}, {n} | type_debug]" for n in NAMES) + "] | to_json }}"
    done = run_local(tmp_path, [{"copy": {"content": expression,
                                          "dest": str(tmp_path / "out.json")}}],
                     extra_vars=ORACLE_ARGS)
    assert done.returncode == 0, done.stdout + done.stderr
    theirs = json.loads((tmp_path / "out.json").read_text())
    monkeypatch.chdir(tmp_path)  # -e @vars.yaml is read from where the command runs
    ours = parse_extra_vars(ORACLE_ARGS)
    assert [[ours[n], type(ours[n]).__name__] for n in NAMES] == theirs
