"""Values converted as Ansible converts them: keywords that hold booleans, typed module
arguments (checked against `ansible-doc`, ansible-core's own account of each module's argument
types), health checks and rollout keys, each bad value one line at its file:line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.load.policy import parse_checks
from orchestrator.load import coerce
from orchestrator.load.playbook import load_playbook
from orchestrator.templating.render import Variables
from tests.support.ansible_collections import collections_path

ANSIBLE_DOC = Path(sys.executable).with_name("ansible-doc")

TRUE = [True, 1, 1.0, "y", "Yes", "ON", "1", "true", "True", "t", " yes "]
FALSE = [False, 0, 0.0, "n", "No", "off", "0", "false", "FALSE", "f"]
NEITHER = ["maybe", "", "2", 2, None, [], {}, "yess"]


@pytest.mark.parametrize("value", TRUE)
def test_ansible_true_values(value) -> None:
    assert coerce.boolean(value) is True


@pytest.mark.parametrize("value", FALSE)
def test_ansible_false_values(value) -> None:
    assert coerce.boolean(value) is False


@pytest.mark.parametrize("value", NEITHER)
def test_anything_else_is_not_a_boolean(value) -> None:
    with pytest.raises(coerce.ConversionError, match="is not a boolean"):
        coerce.boolean(value)


def test_numbers_strings_and_lists() -> None:
    assert coerce.convert("3600", "int") == 3600
    assert coerce.convert(3600.0, "int") == 3600
    assert coerce.convert("2.5", "float") == 2.5
    assert coerce.convert(8080, "str") == "8080"
    assert coerce.convert("a,b", "list") == ["a", "b"]
    assert coerce.convert(["a", 1], "list") == ["a", "1"]
    assert coerce.convert(None, "int") is None
    assert coerce.convert({"any": "thing"}, "raw") == {"any": "thing"}
    for value, kind in (("1h", "int"), (2.5, "int"), ("x", "float"), (["a"], "str"),
                        ({"a": 1}, "list"), ([{"a": 1}], "list")):
        with pytest.raises(coerce.ConversionError):
            coerce.convert(value, kind)


def _ansible_doc(names: list[str], sandbox: Path) -> dict:
    """`ansible-doc -j` in an empty directory with an empty ansible.cfg, with the collections
    of the modules orc carries that ansible-core does not (ansible.posix, community.general)."""
    (sandbox / "ansible.cfg").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env |= {"ANSIBLE_CONFIG": str(sandbox / "ansible.cfg"), "ANSIBLE_HOME": str(sandbox),
            "ANSIBLE_NOCOLOR": "1"}
    collections = collections_path()
    if collections is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    done = subprocess.run([str(ANSIBLE_DOC), "-j", *names], capture_output=True, text=True,
                          env=env, cwd=sandbox, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _full_name(name: str) -> str:
    """The name ansible-doc knows a module of orc's by."""
    if "." in name:
        return name
    return modules.ROUTED.get(name, f"ansible.builtin.{name}")


# arguments orc adds to a module from the one it runs it as: package is apt here, service is
# systemd, and shell/command share their argument table
BORROWED = {"package": "apt", "service": "systemd", "shell": "command", "command": "shell"}


def test_every_module_argument_has_ansibles_documented_type(tmp_path: Path) -> None:
    names = modules.names()
    found = _ansible_doc(sorted({_full_name(n) for n in names}), tmp_path)
    docs = {name: found[_full_name(name)]["doc"].get("options", {}) for name in names}

    def documented(module: str, arg: str) -> str | None:
        options = docs[module]
        for name, option in options.items():
            if arg == name or arg in (option.get("aliases") or []):
                return option.get("type", "str")
        return None

    wrong = {}
    for name in modules.names():
        module = modules.lookup(name, {})
        for arg in module.args:
            # Ansible's copy writes non-string content as JSON: orc takes it as it comes too
            if (name, arg) == ("copy", "content"):
                assert module.types[arg] == "raw"
                continue
            # ansible-doc types an include's `apply` as a string, but it is a mapping of task
            # keywords (the include_tasks page's own examples): orc takes it as it comes
            if arg == "apply" and name in ("include_tasks", "include_role"):
                assert module.types[arg] == "raw"
                continue
            # validate_argument_spec's options are documented without a type, as "a
            # dictionary": orc takes them as they come and its action checks they are mappings
            if name == "validate_argument_spec":
                assert module.types[arg] == "raw"
                continue
            want = documented(name, arg)
            if want is None and name in BORROWED:
                want = documented(BORROWED[name], arg)
            if name == "package" and arg == "name":
                want = documented("apt", arg)  # apt's list, as package hands it to apt
            if module.types.get(arg) != want:
                wrong[f"{name}.{arg}"] = (module.types.get(arg), want)
    assert wrong == {}


def test_module_arguments_are_converted_and_checked_at_load(tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("- hosts: all\n  tasks:\n"
                    "    - apt: {name: curl, update_cache: 'yes', cache_valid_time: '3600'}\n"
                    "    - user: {name: app, uid: '1500', groups: 'a,b', system: 'no'}\n"
                    "    - service: {name: app, enabled: '{{ on }}'}\n")
    apt, user, service = load_playbook(book).plays[0].tasks
    assert (apt.args["update_cache"], apt.args["cache_valid_time"]) == (True, 3600)
    assert (user.args["uid"], user.args["groups"], user.args["system"]) == (1500, ["a", "b"],
                                                                           False)
    assert service.args["enabled"] == "{{ on }}"  # converted per host, once rendered
    assert service.module.convert({**service.args, "enabled": "off"}, {})["enabled"] is False
    with pytest.raises(InputError, match=r"service: argument 'enabled' expects a boolean: "
                                         r"'sometimes' is not a boolean"):
        service.module.convert({**service.args, "enabled": "sometimes"}, {})
    with pytest.raises(InputError, match="service: state='gone' is not one of"):
        service.module.convert({**service.args, "enabled": None, "state": "gone"}, {})


def test_a_pyinfra_operation_takes_the_types_of_its_signature(tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("- hosts: all\n  tasks:\n"
                    "    - pyinfra.apt.packages: {packages: [curl], update: 'no', "
                    "cache_time: '3600'}\n")
    [task] = load_playbook(book).plays[0].tasks
    assert (task.args["update"], task.args["cache_time"]) == (False, 3600)


@pytest.mark.parametrize("keyword", ["ignore_errors", "become", "check_mode"])
def test_task_boolean_keywords(keyword: str, tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("- hosts: all\n  tasks:\n"
                    f"    - command: /bin/true\n      {keyword}: 'no'\n"
                    f"    - command: /bin/true\n      {keyword}: \"{{{{ flag }}}}\"\n"
                    f"    - command: /bin/true\n      {keyword}: sometimes\n")
    with pytest.raises(InputError) as err:
        load_playbook(book)
    assert str(err.value) == (f"{book}:8: {keyword}: 'sometimes' is not a boolean "
                              "(expected yes/no, true/false, on/off or 1/0)")
    book.write_text("\n".join(book.read_text().splitlines()[:6]) + "\n")
    literal, templated = load_playbook(book).plays[0].tasks
    assert getattr(literal, keyword) is False
    for flag, expected in (("false", False), ("True", True), (0, False), ("on", True)):
        assert templated.flag(keyword, Variables({"flag": flag})) is expected
    with pytest.raises(InputError, match=f"{book}:5: {keyword}: 'maybe' is not a boolean"):
        templated.flag(keyword, Variables({"flag": "maybe"}))


def test_play_become_and_gather_facts(tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("- hosts: all\n  become: \"{{ root }}\"\n  vars: {root: 'no'}\n"
                    "  tasks: []\n")
    [play] = load_playbook(book).plays
    assert play.flag("become") is False
    assert play.flag("become", Variables({"root": "yes"})) is True
    book.write_text("- hosts: all\n  gather_facts: perhaps\n  tasks: []\n")
    with pytest.raises(InputError, match=f"{book}:2: gather_facts: 'perhaps' is not a boolean"):
        load_playbook(book)


ROLLOUT = "- hosts: all\n{keys}  tasks: []\n"


@pytest.mark.parametrize("keys, error", [
    ("  bake: soon\n", "2: bake 'soon': expected a number of seconds"),
    ("  bake: -5\n", "2: bake -5: expected a number of seconds"),
    ("  max_fail_percentage: lots\n", "2: max_fail_percentage: 'lots' is not a percentage"),
    ("  max_fail_percentage: 150\n", "2: max_fail_percentage: 150 is not between 0 and 100"),
    ("  any_errors_fatal: sure\n", "2: any_errors_fatal: 'sure' is not a boolean"),
    ("  pause: later\n", "2: pause: 'later' is not a boolean"),
    ("  canary: [{a: 1}]\n", "2: canary: expected a host name"),
    ("  rollback: sometimes\n", "2: rollback: 'sometimes' is not one of"),
    ("  health:\n    - http: http://x/\n      retries: many\n",
     "4: health check retries: 'many' is not an integer"),
    ("  health:\n    - http: http://x/\n      retries: -1\n",
     "4: health check retries -1: expected 0 or more"),
    ("  health:\n    - http: http://x/\n      status: ok\n",
     "4: health check status: 'ok' is not an integer"),
    ("  health:\n    - http: http://x/\n      status: [200, 1000]\n",
     "4: health check status [200, 1000]: expected HTTP statuses"),
    ("  health:\n    - tcp: x:1\n      timeout: forever\n",
     "4: timeout 'forever': expected a number of seconds"),
    ("  health:\n    - tcp: x:1\n      interval: [1]\n",
     "4: interval [1]: expected a number of seconds"),
    ("  health:\n    - http: http://x/\n      body: '('\n",
     "4: health check body: not a regular expression"),
    ("  health:\n    - python: no-such-plugin\n",
     "3: no health check plugin 'no-such-plugin'"),
])
def test_rollout_and_health_keys_are_checked_at_their_line(keys: str, error: str,
                                                           tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text(ROLLOUT.format(keys=keys))
    with pytest.raises(InputError) as err:
        load_playbook(book)
    assert str(err.value).startswith(f"{book}:{error}"), str(err.value)


def test_rollout_keys_as_strings_read_as_ansible_reads_them(tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text(ROLLOUT.format(keys="  any_errors_fatal: \"{{ strict }}\"\n"
                                        "  vars: {strict: 'false'}\n  pause: 'yes'\n"
                                        "  max_fail_percentage: '30%'\n  bake: '2m'\n"
                                        "  health:\n    - http: http://x/\n      retries: '3'\n"
                                        "      status: ['200', 204]\n      timeout: '1.5'\n"))
    policy = load_playbook(book).plays[0].policy
    assert (policy.any_errors_fatal, policy.pause, policy.max_fail_percentage, policy.bake) == (
        False, True, 30.0, 120.0)
    [check] = policy.health
    assert (check.retries, check.status, check.timeout) == (3, (200, 204), 1.5)


def test_a_health_check_that_raises_fails_with_one_line() -> None:
    from orchestrator.rollout.health import run_check

    [check] = parse_checks([{"command": "test {{ 1 / 0 }}", "retries": 0}],
                           {"path": "site.yaml", "line": 7})

    def runner(host, command, timeout):
        raise AssertionError("the check never gets this far")

    result = run_check(check, "web1", Variables({}), runner)
    assert not result.ok
    assert result.detail == "site.yaml:7: ZeroDivisionError: division by zero"


@pytest.mark.parametrize("keyword, error", [
    ("vars: [1]", "vars: expected a mapping"),
    ("loop_control: [item]", "loop_control: expected a mapping"),
    ("loop_control: {loop_var: 5}", "loop_control: loop_var 5 is not a variable name"),
    ("become_user: [root]", "become_user: expected a user name"),
])
def test_task_keywords_of_the_wrong_shape_are_one_line(keyword: str, error: str,
                                                       tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text(f"- hosts: all\n  tasks:\n    - command: /bin/true\n      {keyword}\n")
    with pytest.raises(InputError) as err:
        load_playbook(book)
    assert str(err.value) == f"{book}:4: {error}"
