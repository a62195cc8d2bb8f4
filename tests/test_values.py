"""Values as ansible-core 2.19 renders them: nulls, native types, trailing newlines, the bool
filter and boolean conditions. Expected values were measured with ansible-playbook 2.19; the
oracle tests at the end measure them again on every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.templating.render import Variables, evaluate, render_file, render_value
from tests.support.ansible_local import run_local

VARIABLES = {"nothing": None, "empty": "", "port": 6379, "ratio": 1.5, "ports": [80, 443],
             "settings": {"a": 1, "b": None}, "flag": True, "name": "redis",
             "s_false": "false", "items_": ["one", None]}


@pytest.mark.parametrize("source, expected", [
    ("x{{ nothing }}y", "xy"),
    ("{{ nothing }}", None),
    ("{{ ports }}", [80, 443]),
    ("{{ ports }}\n", [80, 443]),
    ("{{ ports }}\n\n", "[80, 443]\n\n"),
    (" {{ port }}", " 6379"),
    ("{{ port }} ", "6379 "),
    ("{# note #}{{ port }}", 6379),
    ("{{ port }}{{ port }}", "63796379"),
    ("a\n{{ empty }}\n", "a\n"),
    ("{{ empty }}\n", "\n"),
    ("a {{ ports }} {{ settings }} {{ flag }} {{ nothing }}|",
     "a [80, 443] {'a': 1, 'b': None} True |"),
    ("{{ (1, 2) }}", [1, 2]),
    ("{{ settings.items() | list }}", [["a", 1], ["b", None]]),
    ("{{ settings.b }}", None),
    ("{{ 'a' ~ nothing ~ 'b' }}", "aNoneb"),
    ("plain\r\ntext\r\n", "plain\r\ntext\r\n"),
])
def test_rendered_values(source: str, expected) -> None:
    assert render_value(source, Variables(VARIABLES)) == expected


TEMPLATES = {
    "redis.conf": "maxmemory 100mb\n{{ empty }}\n",
    "blank-lines": "a\n\n\n",
    "lone-number": "{{ port }}\n",
    "lone-string": "{{ name }}\n",
    "lone-string-two": "{{ name }}\n\n",
    "no-newline": "x={{ port }}",
    "block-end": "{% if flag %}\nyes\n{% endif %}\n",
    "indented-end": "  {% if flag %}\nx\n  {% endif %}\n",
    "crlf": "dos\r\nline {{ port }}\r\n\r\n",
    "crlf-plain": "plain\r\nno jinja\r\n",
    "empty": "{{ empty }}",
    "null-line": "a\n{{ nothing }}\n",
    "loop-null": "{% for i in items_ %}{{ i }}\n{% endfor %}",
    "lone-list": "{{ ports }}\n",
    "lone-null": "{{ nothing }}\n",
    "comment-only": "{# c #}\nline\n",
}
MEASURED = {
    "redis.conf": b"maxmemory 100mb\n",
    "blank-lines": b"a\n\n\n",
    "lone-number": b"6379",
    "lone-string": b"redis\n",
    "lone-string-two": b"redis\n\n",
    "no-newline": b"x=6379",
    "block-end": b"yes\n",
    "indented-end": b"  x\n  \n",
    "crlf": b"dos\nline 6379\n",
    "crlf-plain": b"plain\r\nno jinja\r\n",
    "empty": b"",
    "null-line": b"a\n",
    "loop-null": b"one\n\n",
    "lone-list": b"[80, 443]",
    "lone-null": b"",
    "comment-only": b"line\n",
}


def _write_templates(directory: Path) -> None:
    (directory / "templates").mkdir(parents=True, exist_ok=True)
    for name, source in TEMPLATES.items():
        (directory / "templates" / f"{name}.j2").write_bytes(source.encode())


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_endings(tmp_path: Path, name: str) -> None:
    _write_templates(tmp_path)
    rendered = render_file(tmp_path / "templates" / f"{name}.j2", VARIABLES)
    assert rendered.encode() == MEASURED[name]


def test_newline_sequence(tmp_path: Path) -> None:
    _write_templates(tmp_path)
    assert render_file(tmp_path / "templates" / "block-end.j2", VARIABLES,
                       newline_sequence="\r\n") == "yes\r\n"


def test_template_endings_match_ansible_playbook(tmp_path: Path) -> None:
    _write_templates(tmp_path)
    out = tmp_path / "out"
    tasks = [{"file": {"path": str(out), "state": "directory"}}] + [
        {"template": {"src": f"{name}.j2", "dest": str(out / name)}} for name in TEMPLATES]
    done = run_local(tmp_path, tasks, VARIABLES)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in TEMPLATES:
        assert (out / name).read_bytes() == MEASURED[name], name


BOOLS = [("yes", True), ("Yes", True), ("on", True), ("ON", True), ("1", True), ("true", True),
         ("True", True), ("no", False), ("off", False), ("0", False), ("false", False),
         ("y", False), ("t", False), (" yes", False), ("", False), ("enabled", False),
         (True, True), (False, False), (1, True), (0, False), (2, False), (1.0, True),
         (0.5, False), (["a"], False), ({}, False), (None, False)]


@pytest.mark.parametrize("value, expected", BOOLS)
def test_bool_filter(value, expected: bool) -> None:
    assert render_value("{{ value | bool }}", Variables({"value": value})) is expected


def test_bool_filter_matches_ansible_playbook(tmp_path: Path) -> None:
    values = [v for v, _ in BOOLS]
    done = run_local(tmp_path, [{"copy": {
        "content": "{{ values | map('bool') | list | to_json }}",
        "dest": str(tmp_path / "out.json")}}], {"values": values})
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == [e for _, e in BOOLS]


@pytest.mark.parametrize("condition, expected", [
    ("flag", True),
    ("s_false | bool", False),
    ("not s_false", False),
    ("port > 5", True),
    ("'b' in ['a', 'b'] and nothing is none", True),
    ("flag or s_false", True),
    ("{{ flag }}", True),
    (["flag", "ports | length == 2"], True),
    (False, False),
])
def test_boolean_conditions(condition, expected: bool) -> None:
    assert evaluate(condition, Variables(VARIABLES)) is expected


@pytest.mark.parametrize("condition, kind", [
    ("s_false", "str"),
    ("name", "str"),
    ("port", "int"),
    ("ports", "list"),
    ("ports | length", "int"),
    ("settings", "dict"),
    ("nothing", "NoneType"),
    ("flag and name", "str"),
    ("'false'", "str"),
    ("ratio", "float"),
])
def test_non_boolean_conditions_are_refused(condition: str, kind: str) -> None:
    with pytest.raises(InputError) as err:
        evaluate(condition, Variables(VARIABLES), "site.yaml:7")
    assert str(err.value).startswith(f"site.yaml:7: condition {condition!r} gave {kind} ")
    assert "boolean" in str(err.value)


def test_a_condition_that_is_a_number_literal_is_refused() -> None:
    with pytest.raises(InputError, match="condition 1 is a int"):
        evaluate(1, Variables({}), "site.yaml:3")


def test_ansible_refuses_the_same_conditions(tmp_path: Path) -> None:
    """ansible-core fails each of these tasks (ignore_errors keeps the play going)."""
    refused = ["s_false", "port", "ports", "nothing", "flag and name"]
    tasks = [{"name": f"when {c}", "debug": {"msg": "ran"}, "when": c, "ignore_errors": True}
             for c in refused]
    done = run_local(tmp_path, tasks, VARIABLES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Conditionals must have a boolean result") >= len(refused)
    assert "ignored=5" in done.stdout
