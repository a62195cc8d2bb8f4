"""jinja2 as Ansible users write it: lazy variables, native types, conditions, clear errors,
Ansible's whitespace in templates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.errors import InputError
from orchestrator.templating.render import Variables, evaluate, render_file, render_value


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
    # as a task argument reads it from YAML: the backslash reaches re as written (ansible-core
    # 2.19 reads no escapes in a template from YAML)
    assert render_value("{{ name | regex_replace('\\..*$', '') }}", variables) == "web01"
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


# A template with the block tags whose whitespace Ansible trims: a loop, a condition, an
# indented end tag and a comment.
WHITESPACE_TEMPLATE = (
    "# upstreams of {{ name }}\n"
    "{% for address in upstreams %}\n"
    "server {{ address }} weight={{ loop.index }}\n"
    "{% endfor %}\n"
    "{# a comment line #}\n"
    "{% if tls %}\n"
    "    ssl on;\n"
    "  {% endif %}\n"
    "end\n"
)
WHITESPACE_VARS = {"name": "web1", "upstreams": ["10.0.0.1", "10.0.0.2"], "tls": True}


def test_template_files_trim_blocks_as_ansible_does(tmp_path: Path) -> None:
    template = tmp_path / "upstreams.conf.j2"
    template.write_text(WHITESPACE_TEMPLATE)
    assert render_file(template, Variables(WHITESPACE_VARS)) == (
        "# upstreams of web1\n"
        "server 10.0.0.1 weight=1\n"
        "server 10.0.0.2 weight=2\n"
        "    ssl on;\n"
        "  end\n"
    )


def test_template_whitespace_options_are_ansibles(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("a\n  {% if true %}\nb\n  {% endif %}\nc\n")
    assert render_file(template, {}) == "a\n  b\n  c\n"
    assert render_file(template, {}, lstrip_blocks=True) == "a\nb\nc\n"
    assert render_file(template, {}, trim_blocks=False) == "a\n  \nb\n  \nc\n"


def test_block_tags_in_task_arguments_are_trimmed_too() -> None:
    block = "start\n{% for i in items %}\nline {{ i }}\n{% endfor %}\nend\n"
    assert render_value(block, Variables({"items": ["a", "b"]})) == "start\nline a\nline b\nend\n"


@pytest.mark.slow
def test_template_rendering_matches_ansibles_template_module(tmp_path: Path) -> None:
    """ansible-core's own template module, run locally, is the oracle."""
    playbook_bin = Path(sys.executable).with_name("ansible-playbook")
    if not playbook_bin.exists():
        pytest.skip("ansible-core is not installed beside the tests")
    template = tmp_path / "upstreams.conf.j2"
    template.write_text(WHITESPACE_TEMPLATE)
    cases = {"default": {}, "untrimmed": {"trim_blocks": False},
             "lstripped": {"lstrip_blocks": True}}
    tasks = [{"template": {"src": str(template), "dest": str(tmp_path / f"{case}.out"), **options}}
             for case, options in cases.items()]
    (tmp_path / "play.yaml").write_text(yaml.safe_dump(
        [{"hosts": "localhost", "gather_facts": False, "vars": WHITESPACE_VARS,
          "tasks": tasks}]))
    (tmp_path / "ansible.cfg").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env |= {"ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"), "ANSIBLE_HOME": str(tmp_path),
            "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(
        [str(playbook_bin), "-i", "localhost,", "-c", "local", "play.yaml",
         "-e", f"ansible_python_interpreter={sys.executable}"],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for case, options in cases.items():
        assert render_file(template, Variables(WHITESPACE_VARS), **options) == \
            (tmp_path / f"{case}.out").read_text(), case


def test_a_jinja2_header_line_sets_the_template_s_options(tmp_path: Path) -> None:
    """`#jinja2: trim_blocks:True, lstrip_blocks:True` as the first line: those options for this
    template, and the line itself not written (ansible-core 2.19 renders this source to exactly
    the expected text)."""
    source = tmp_path / "t.j2"
    source.write_text("#jinja2: trim_blocks:True, lstrip_blocks:True\n#\n{% if x %}\n"
                      "    {% for i in [1,2] %}\n  v{{ i }}\n    {% endfor %}\n{% endif %}\nend\n")
    assert render_file(source, {"x": True}) == "#\n  v1\n  v2\nend\n"
    source.write_text("#jinja2: variable_start_string: '[%', variable_end_string: '%]'\n"
                      "[% x %] {{ x }}\n")
    assert render_file(source, {"x": 1}) == "1 {{ x }}\n"
    source.write_text("#jinja2: keep_going: True\n{{ x }}\n")
    with pytest.raises(InputError, match="#jinja2 header: 'keep_going: True' is not one of"):
        render_file(source, {"x": 1})


def test_one_source_under_other_whitespace_options_is_compiled_for_each(tmp_path: Path) -> None:
    """Templates are compiled once per environment; an environment with other whitespace
    options (an overlay) never gets another's compiled template."""
    source = "  {% if true %}\nx\n  {% endif %}\n"
    path = tmp_path / "t.j2"
    path.write_text(source)
    outputs = {}
    for trim, lstrip in [(True, False), (False, False), (True, True), (True, False)]:
        for _ in range(2):  # the second render of each is the compiled one
            outputs.setdefault((trim, lstrip), set()).add(
                render_file(path, {}, trim_blocks=trim, lstrip_blocks=lstrip))
    assert {k: v.pop() for k, v in outputs.items() if len(v) == 1} == {
        (True, False): "  x\n  \n", (False, False): "  \nx\n  \n", (True, True): "x\n"}


def test_a_compiled_expression_renders_each_hosts_own_values() -> None:
    for n in range(3):
        assert render_value("{{ name }}-{{ n * 2 }}", {"name": f"web{n}", "n": n}) == \
            f"web{n}-{n * 2}"


def test_a_syntax_error_is_raised_each_time() -> None:
    for _ in range(2):
        with pytest.raises(InputError, match="template syntax"):
            render_value("{{ oops( }}", {}, "tasks.yaml:3")
