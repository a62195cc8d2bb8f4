"""jinja2 as Ansible users write it: lazy variables, native types, conditions, clear errors."""

from __future__ import annotations

import pytest

from orchestrator.errors import InputError
from orchestrator.templating import Variables, evaluate, render_value


def test_variables_are_rendered_when_read_through_other_variables() -> None:
    variables = Variables({"port": 8080, "upstream": "127.0.0.1:{{ port }}",
                           "url": "http://{{ upstream }}/"})
    assert variables["url"] == "http://127.0.0.1:8080/"


def test_a_lone_expression_keeps_its_type() -> None:
    variables = Variables({"packages": ["a", "b"], "n": 3})
    assert render_value("{{ packages }}", variables) == ["a", "b"]
    assert render_value("{{ n + 1 }}", variables) == 4
    assert render_value("n={{ n }}", variables) == "n=3"
    assert render_value({"k": ["{{ n }}"]}, variables) == {"k": [3]}


def test_ansible_filters() -> None:
    variables = Variables({"name": "web01.example.com", "flag": "yes", "d": {"a": 1}})
    assert render_value("{{ name | regex_replace('\\\\..*$', '') }}", variables) == "web01"
    assert render_value("{{ flag | bool }}", variables) is True
    assert render_value("{{ d | combine({'b': 2}) | to_json }}", variables) == '{"a": 1, "b": 2}'
    assert render_value("{{ missing | default('x') }}", variables) == "x"


def test_conditions() -> None:
    variables = Variables({"env": "prod", "groups_": ["web"], "n": 2})
    assert evaluate("env == 'prod'", variables)
    assert evaluate("{{ n > 1 }}", variables)
    assert not evaluate(["env == 'prod'", "n > 5"], variables)
    assert evaluate("'web' in groups_", variables)


def test_undefined_variable_names_the_variable_and_place() -> None:
    with pytest.raises(InputError) as err:
        render_value("{{ nope }}", Variables({}), "roles/x/tasks/main.yaml:4")
    assert str(err.value) == "roles/x/tasks/main.yaml:4: undefined variable: 'nope' is undefined"


def test_condition_on_undefined_variable_is_an_error() -> None:
    with pytest.raises(InputError, match="condition 'nope == 1'"):
        evaluate("nope == 1", Variables({}), "site.yaml:3")


def test_self_reference_is_reported() -> None:
    variables = Variables({"a": "{{ b }}", "b": "{{ a }}"})
    with pytest.raises(InputError, match="refers to itself"):
        variables["a"]
