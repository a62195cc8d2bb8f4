"""Ansible's filters and tests as orc renders them, checked against ansible-playbook 2.19 on
this machine (connection local): a template line per expression, compared byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.templating.render import Variables, render_file, render_value
from tests.support.ansible_local import run_local

VARIABLES = {"settings": {"workers": 4, "name": "web", "city": "Zürich", "ports": [80, 443],
                          "extra": None},
             "city": "Zürich", "port": 8080, "flag": True, "words": "hello world"}

EXPRESSIONS = [
    "settings | to_yaml", "settings | to_nice_yaml", "settings | to_nice_yaml(indent=2)",
    "city | to_yaml", "port | to_yaml", "words | to_yaml", "[] | to_nice_yaml",
    "settings | to_yaml(sort_keys=True)", "settings | to_json", "settings | to_nice_json",
    "settings | to_json(sort_keys=true)", "'{\"a\": 1}' | from_json", "'a: [1, 2]' | from_yaml",
    "'abc' | regex_search('z')", "'abc' | regex_search('(b)(c)', '\\\\2', '\\\\1')",
    "'abc' | regex_search('(?P<x>b)', '\\\\g<x>')", "'ABC' | regex_search('b', ignorecase=true)",
    "'a1b22' | regex_findall('\\\\d+')", "'web01.example.com' | regex_replace('\\\\..*$', '')",
    "'aXbXc' | regex_replace('X')", "'a.b' | regex_escape",
    "[3, 1, 3, 2] | unique", "['a', 'A'] | unique", "[1, [2, [3, none, []]]] | flatten",
    "[1, [2, [3, [4]]]] | flatten(levels=1)", "'a,b,c' | split(',')", "'a b  c' | split",
    "'a,b' | split(',', 1)",
    "[1, 2] | union([2, 3])", "[1, 2] | intersect([2, 3])", "[1, 2] | difference([2, 3])",
    "[1, 2] | symmetric_difference([2, 3])", "[[1], [2]] | union([[1], [3]])",
    "'secret' | hash('sha256')", "'secret' | hash", "'secret' | checksum", "'secret' | md5",
    "'secret' | sha1", "[1, 2] | zip(['a', 'b']) | list",
    "[1, 2] | zip_longest(['a'], fillvalue='-') | list", "[1, 2] | product([3]) | list",
    "[1, 2, 3] | permutations(2) | list | length", "'x' | type_debug", "settings | type_debug",
    "{'a': {'b': 1}} | combine({'a': {'c': 2}}, {'a': {'b': 3}}, recursive=true)",
    "[{'a': 1}, {'b': 2}] | combine", "settings | dict2items", "settings | dictsort",
    "[{'key': 'a', 'value': 1}] | items2dict", "flag | ternary('on', 'off')",
    "none | ternary('y', 'n', 'z')", "'/a/b.c' | basename", "'/a/b.c' | dirname",
    "'a.tar.gz' | splitext", "\"it's\" | quote", "'hi' | b64encode", "'aGk=' | b64decode",
    "'1.10' is version('1.9', '>')", "'1.0' is version('1.0.0', '==')",
    "'1.0' is version('1.0.0', '==', strict=true)", "'2.1' is version_compare('2.0', 'ge')",
    "'abc' is match('b')", "'abc' is search('b')", "'abc' is regex('^a')",
    "words is truthy", "'' is falsy", "[1, 2] is subset([1, 2, 3])",
    "[1, 2, 3] is superset([1])", "port | ansible.builtin.to_json",
    "'1.2' is ansible.builtin.version('1.1', 'gt')",
    "(1, 2)", "settings.items() | list", "3 / 2", "4 / 2", "2 ** 70", "'0644' | int",
    "[none, 1] | join(',')", "'a' ~ none ~ 'b'", "settings.extra", "none | default('d')",
    # a template file reads escapes in string literals, as jinja2 does (task arguments do not)
    "[1, 2] | map('string')", "{'k': 1}.keys()", "'a\\tb' | length",
    "'me@host' | regex_replace('(\\\\w+)@(\\\\w+)', '\\\\2 at \\\\1')",
    "'x' | comment('cblock')", "'b' | password_hash('sha512', 'salt', rounds=5000)",
    "now() | type_debug", "'1.2.3-rc.1' is version('1.2.3', '<', version_type='semver')",
]


def test_filters_match_ansible_playbook(tmp_path: Path) -> None:
    """One template, a line per expression (as text, the way a config file holds them)."""
    (tmp_path / "templates").mkdir()
    source = "".join(f"{i}: [{{{{ {e} }}}}]\n" for i, e in enumerate(EXPRESSIONS))
    (tmp_path / "templates" / "all.j2").write_text(source)
    done = run_local(tmp_path, [{"template": {"src": "all.j2",
                                              "dest": str(tmp_path / "out.txt")}}], VARIABLES)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    theirs = (tmp_path / "out.txt").read_text().split("\n")
    ours = render_file(tmp_path / "templates" / "all.j2", VARIABLES).split("\n")
    assert len(ours) == len(theirs)
    differences = [f"ansible {t!r}\n   orc {o!r}" for t, o in zip(theirs, ours) if t != o]
    assert not differences, "\n".join(differences)


def test_list_filters_return_lists() -> None:
    variables = Variables({"values": [3, 1, 3]})
    assert render_value("{{ values | unique }}", variables) == [3, 1]
    assert render_value("{{ [[1], [2, [3]]] | flatten }}", variables) == [1, 2, 3]


@pytest.mark.parametrize("expression", ["'1.a' is version('1.2', '<')",
                                        "'1.0' is version('1.0', 'bogus')"])
def test_version_edge_cases_fail_naming_the_test(expression: str) -> None:
    """ansible-core 2.19 fails both: LooseVersion cannot order a word against a number, and
    'bogus' is no operator."""
    with pytest.raises(InputError, match="test 'version' failed"):
        render_value("{{ " + expression + " }}", Variables({}))
