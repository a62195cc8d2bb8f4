"""`orc test ROLE`: scenarios, the idempotence judgement, and whole role tests on real lab hosts
(create -> converge -> idempotence -> verify with testinfra over SSH -> destroy), plus the
molecule scenario that drives orc.

The lab tests start labs of their own (named after ORC_TEST_LAB), one at a time, and each role
test removes its hosts whatever happens; a lab left behind would fail the next test's create.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from orchestrator.engine.results import CHANGED, OK, HostResult, PlayResult, RunResult, TaskResult
from orchestrator.errors import InputError
from orchestrator.lab.state import Lab
from orchestrator.roletest import converge as converge_mod
from orchestrator.roletest import load_scenario, molecule, scenario_names
from orchestrator.roletest.hosts import MARKER, claimed
from tests.support.orc import ORC, TEST_LAB

REPO = Path(__file__).resolve().parent.parent
ROLETEST_LAB = f"{TEST_LAB[:7]}r"
MOLECULE_LAB = f"{TEST_LAB[:7]}m"
AGE_KEY = REPO / "secrets" / "example-keys" / "age.key"


def orc_test(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    """`orc test ...` as a user runs it, in `cwd` (the project holding roles/)."""
    environment = dict(os.environ, COLUMNS="200", **env)
    return subprocess.run([ORC, "test", *args], cwd=cwd, capture_output=True, text=True,
                          env=environment, timeout=900, check=False)


def project_with(tmp_path: Path, *roles: str) -> Path:
    """A project of its own holding copies of example roles, to break them safely."""
    for role in roles:
        shutil.copytree(REPO / "roles" / role, tmp_path / "roles" / role,
                        ignore=shutil.ignore_patterns("molecule", "__pycache__"))
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# scenarios, without hosts


def test_a_role_without_scenarios_is_tested_on_one_host_alone() -> None:
    scenario = load_scenario("nginx", project=REPO)
    assert scenario_names(scenario.role_dir) == ["default"]
    assert [p.name for p in scenario.platforms] == ["nginx1"]
    assert scenario.roles == ("nginx",)
    assert scenario.test_files() == [REPO / "roles/nginx/tests/test_default.py"]


def test_scenario_file_sets_platforms_groups_vars_and_roles(tmp_path: Path) -> None:
    project = project_with(tmp_path, "common", "app")
    write(project / "roles/app/scenarios/pair.yaml", yaml.safe_dump({
        "platforms": [{"name": "web1", "groups": ["web"], "vars": {"app_port": 9000}},
                      {"name": "db1", "groups": "db"}],
        "roles": ["common", {"role": "app", "app_message": "hi"}],
        "vars": {"common_environment": "test"},
        "vars_files": ["vars.yaml"],
    }))
    write(project / "vars.yaml", "x: 1\n")
    scenario = load_scenario("app", "pair", project)
    assert [(p.name, p.groups, p.vars) for p in scenario.platforms] == [
        ("web1", ("web",), {"app_port": 9000}), ("db1", ("db",), {})]
    assert converge_mod.converge_play(scenario) == [{
        "name": "converge app (pair)", "hosts": "all",
        "vars": {"common_environment": "test"}, "vars_files": ["vars.yaml"],
        "roles": ["common", {"role": "app", "app_message": "hi"}],
    }]
    assert [p.name for p in scenario.with_hosts(3).platforms] == ["web1", "db1", "app3"]
    assert scenario.with_hosts(3).platforms[2].groups == ("db",)
    assert sorted(scenario_names(scenario.role_dir)) == ["default", "pair"]


@pytest.mark.parametrize(("text", "message"), [
    ("platfroms: []\n", "2: unknown scenario key 'platfroms' (did you mean 'platforms'?)"),
    ("hosts: 0\n", "a role test runs on 1 to 20 hosts, not 0"),
    ("hosts: 2\nplatforms: [{name: a}]\n", "give `hosts` (a count) or `platforms`"),
    ("platforms: [{name: a, group: [web]}]\n", "unknown platform key 'group'"),
    ("platforms: [{name: a}, {name: a}]\n", "platform 'a' is listed twice"),
    ("vars_files: [nowhere.yaml]\n", "vars file 'nowhere.yaml' not found"),
    ("roles: nginx\n", "roles must be a non-empty list"),
])
def test_a_bad_scenario_is_one_line_naming_the_file(tmp_path: Path, text: str,
                                                     message: str) -> None:
    project = project_with(tmp_path, "nginx")
    path = write(project / "roles/nginx/scenarios/bad.yaml", "# broken on purpose\n" + text)
    with pytest.raises(InputError) as caught:
        load_scenario("nginx", "bad", project)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_unknown_role_and_scenario_name_the_nearest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"role 'ngnix' not found .*did you mean 'nginx'"):
        load_scenario("ngnix", project=REPO)
    with pytest.raises(InputError, match=r"has no scenario 'defualt'"):
        load_scenario("app", "defualt", project=REPO)


def test_a_bad_role_entry_points_at_the_scenario_and_leaves_no_playbook(tmp_path: Path) -> None:
    project = project_with(tmp_path, "nginx")
    path = write(project / "roles/nginx/scenarios/default.yaml", "roles: [nginx, ngnix]\n")
    inventory = write(tmp_path / "inventory.yaml", "all: {hosts: {nginx1: {}}}\n")
    with pytest.raises(InputError) as caught:
        converge_mod.load_converge(load_scenario("nginx", project=project), inventory)
    assert str(caught.value).startswith(f"{path}: role 'ngnix' not found")
    assert not list(project.glob(".orc-test-*"))


# the idempotence judgement, on the results of a converge


def _second_converge(book, changed: list[str]) -> RunResult:
    """What a second converge reports when the tasks at these file:line changed."""
    host = HostResult("nginx1")
    for _, role in book.plays[0].roles:
        for task in role.tasks:
            host.tasks.append(TaskResult(task.name, task.where,
                                         CHANGED if task.where in changed else OK))
        for handler in role.handlers:
            host.tasks.append(TaskResult(handler.name, handler.where,
                                         CHANGED if changed else OK, handler=True))
    return RunResult("converge", False, [PlayResult("converge", {"nginx1": host})])


def test_only_untagged_changes_break_idempotence_and_their_handlers_follow(
        tmp_path: Path) -> None:
    project = project_with(tmp_path, "nginx")
    tasks = project / "roles/nginx/tasks/main.yaml"
    tasks.write_text(tasks.read_text() + (
        "\n- name: stamp\n  command: date\n  notify: reload nginx\n"
        "\n- name: excepted stamp\n  command: date\n  notify: reload nginx\n"
        "  tags: [orc-idempotence-notest]\n"))
    inventory = write(tmp_path / "inventory.yaml", "all: {hosts: {nginx1: {}}}\n")
    book, _ = converge_mod.load_converge(load_scenario("nginx", project=project), inventory)
    stamp = f"{tasks}:{line_of(tasks, 'name: stamp')}"
    excepted = f"{tasks}:{line_of(tasks, 'name: excepted stamp')}"
    assert converge_mod.excepted_tasks(book) == {excepted}

    assert converge_mod.idempotence_offences(book, _second_converge(book, [])) == []
    # the handler ran only because of the excepted task: excepted with it
    assert converge_mod.idempotence_offences(book, _second_converge(book, [excepted])) == []
    offences = converge_mod.idempotence_offences(book, _second_converge(book, [stamp, excepted]))
    assert [(o.task, o.where) for o in offences] == [
        ("stamp", stamp), ("reload nginx", f"{project}/roles/nginx/handlers/main.yaml:1")]
    assert offences[0].line(project) == (
        f"roles/nginx/tasks/main.yaml:{line_of(tasks, 'name: stamp')}: task 'stamp' changed "
        "on nginx1")


# safety of the lab a role test uses


def test_a_lab_not_started_by_orc_test_is_never_touched(tmp_path: Path) -> None:
    root = tmp_path / "labs"
    state = write(root / "mine" / "state.json", json.dumps(
        {"name": "mine", "subnet": "10.213.200.0/24", "hosts": []}))
    proc = orc_test("nginx", "--lab", "mine", ORC_LAB_ROOT=str(root))
    assert proc.returncode == 1
    assert "lab 'mine' was not started by `orc test`" in proc.stdout
    assert "no hosts to remove" in proc.stdout
    assert state.exists() and not (root / "mine" / MARKER).exists()


def test_a_lab_in_use_by_another_role_test_is_refused(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_LAB_ROOT", str(tmp_path))
    with claimed("busy"):
        proc = orc_test("nginx", "--lab", "busy", ORC_LAB_ROOT=str(tmp_path))
    assert proc.returncode == 1
    assert "lab 'busy' is in use by another `orc test`" in proc.stderr
    assert not (tmp_path / "busy").exists()


def test_one_of_role_or_all_is_needed() -> None:
    proc = orc_test()
    assert proc.returncode == 1 and "name one ROLE, or give --all" in proc.stderr
    proc = orc_test("nginx", "--all")
    assert proc.returncode == 1 and "name one ROLE, or give --all" in proc.stderr


# the molecule scenario orc writes


def test_init_molecule_writes_the_scenario_shipped_for_nginx(tmp_path: Path) -> None:
    project = project_with(tmp_path, "nginx")
    proc = orc_test("nginx", "--init-molecule", cwd=project)
    assert proc.returncode == 0, proc.stderr
    written = project / "roles/nginx/molecule/default"
    shipped = REPO / "roles/nginx/molecule/default"
    assert sorted(p.name for p in written.iterdir()) == sorted(p.name for p in shipped.iterdir())
    for path in written.iterdir():
        assert path.read_text() == (shipped / path.name).read_text(), path.name
    config = yaml.safe_load((written / "molecule.yml").read_text())
    assert config["verifier"]["options"]["connection"] == "ssh"
    assert config["platforms"] == [{"name": "nginx1"}]
    # it never writes over a scenario someone changed
    (written / "converge.yml").write_text("# mine\n")
    proc = orc_test("nginx", "--init-molecule", cwd=project)
    assert proc.returncode == 1 and "exists and differs" in proc.stderr
    assert (written / "converge.yml").read_text() == "# mine\n"


def test_molecule_lab_name_is_a_valid_lab_name() -> None:
    assert molecule.default_lab("nginx") == "mnginx"
    assert molecule.default_lab("web_server-2") == "mwebserv"


# whole role tests on real hosts


def _junit_cases(path: Path) -> dict[str, dict[str, str]]:
    """suite name -> test case name -> passed | failed | skipped."""
    cases: dict[str, dict[str, str]] = {}
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for case in suite.iter("testcase"):
            outcome = "failed" if case.find("failure") is not None or \
                case.find("error") is not None else \
                "skipped" if case.find("skipped") is not None else "passed"
            cases.setdefault(suite.get("name"), {})[case.get("name")] = outcome
    return cases


@pytest.mark.lab
@pytest.mark.slow
def test_every_example_role_passes_its_role_test(tmp_path: Path) -> None:
    junit = tmp_path / "junit"
    proc = orc_test("--all", "--lab", ROLETEST_LAB, "--junit", str(junit),
                    ORC_AGE_KEY_FILE=str(AGE_KEY))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in junit.iterdir()) == ["app.xml", "common.xml", "nginx.xml"]
    cases = _junit_cases(junit / "nginx.xml")
    assert cases["orc test nginx (default)"] == dict.fromkeys(
        ("create", "converge", "idempotence", "verify", "destroy"), "passed")
    verify = cases["verify nginx (default)"]
    assert verify["test_port_80_answers_as_nginx[ssh://nginx1]"] == "passed"
    assert len(verify) == 5 and set(verify.values()) == {"passed"}
    assert set(_junit_cases(junit / "app.xml")["verify app (default)"].values()) == {"passed"}
    assert set(_junit_cases(junit / "common.xml")["verify common (default)"].values()) == \
        {"passed"}
    assert re.search(r"✓ idempotence .* second converge changed nothing", proc.stdout)
    assert Lab.load(ROLETEST_LAB) is None


@pytest.mark.lab
@pytest.mark.slow
def test_a_task_that_always_changes_fails_idempotence_naming_it(tmp_path: Path) -> None:
    project = project_with(tmp_path, "nginx")
    tasks = project / "roles/nginx/tasks/main.yaml"
    tasks.write_text(tasks.read_text() + (
        "\n- name: record the deploy time\n  command: date\n"
        "\n- name: excepted deploy stamp\n  command: date\n  tags: [orc-idempotence-notest]\n"))
    proc = orc_test("nginx", "--lab", ROLETEST_LAB, cwd=project)
    assert proc.returncode == 1, proc.stdout
    line = line_of(tasks, "name: record the deploy time")
    assert re.search(r"✓ converge .* change\(s\) on 1 host", proc.stdout)
    assert re.search(r"✗ idempotence .* not idempotent: 1 task", proc.stdout)
    assert (f"roles/nginx/tasks/main.yaml:{line}: task 'record the deploy time' changed on "
            "nginx1") in proc.stdout
    assert "excepted deploy stamp" not in proc.stdout
    assert re.search(r"- verify +not run", proc.stdout)
    assert re.search(r"✓ destroy .* removed", proc.stdout)
    assert Lab.load(ROLETEST_LAB) is None


@pytest.mark.lab
@pytest.mark.slow
def test_a_broken_verify_test_fails_at_verify_with_pytests_message(tmp_path: Path) -> None:
    project = project_with(tmp_path, "nginx")
    write(project / "roles/nginx/tests/test_port.py",
          'def test_site_listens_on_8081(host):\n'
          '    site = host.file("/etc/nginx/sites-available/default").content_string\n'
          '    assert "listen 8081" in site\n')
    junit = tmp_path / "junit"
    proc = orc_test("nginx", "--lab", ROLETEST_LAB, "--junit", str(junit), cwd=project)
    assert proc.returncode == 1, proc.stdout
    assert re.search(r"✓ idempotence", proc.stdout)
    assert re.search(r"✗ verify .* 1 failed, 5 passed", proc.stdout)
    assert "assert 'listen 8081' in" in proc.stdout  # pytest's own assertion message
    assert ("FAILED roles/nginx/tests/test_port.py::test_site_listens_on_8081[ssh://nginx1]"
            in proc.stdout)
    cases = _junit_cases(junit / "nginx.xml")
    assert cases["orc test nginx (default)"]["verify"] == "failed"
    assert cases["verify nginx (default)"]["test_site_listens_on_8081[ssh://nginx1]"] == "failed"
    assert Lab.load(ROLETEST_LAB) is None


SCENARIO_ROLE_TASKS = """\
- name: scenario marker
  template:
    src: marker.j2
    dest: /etc/orc-scenario
    mode: "0644"
"""
SCENARIO_ROLE_TEST = """\
def test_marker_has_the_host_its_groups_and_vars(host):
    name = host.backend.get_hostname()
    expected = {"web1": "hi web web1", "db1": "hello db db1"}[name]
    assert host.file("/etc/orc-scenario").content_string.strip() == expected
"""


@pytest.mark.lab
@pytest.mark.slow
def test_steps_one_by_one_on_a_two_host_scenario(tmp_path: Path) -> None:
    project = tmp_path
    role = project / "roles" / "marker"
    write(role / "tasks/main.yaml", SCENARIO_ROLE_TASKS)
    write(role / "templates/marker.j2",
          "{{ greeting }} {{ group_names | join(',') }} {{ inventory_hostname }}\n")
    write(role / "tests/test_marker.py", SCENARIO_ROLE_TEST)
    write(role / "scenarios/pair.yaml", yaml.safe_dump({
        "platforms": [{"name": "web1", "groups": ["web"], "vars": {"greeting": "hi"}},
                      {"name": "db1", "groups": ["db"], "vars": {"greeting": "hello"}}],
    }))

    def step(name: str) -> subprocess.CompletedProcess:
        return orc_test("marker", "--scenario", "pair", "--step", name, "--lab", ROLETEST_LAB,
                        cwd=project)

    try:
        created = step("create")
        assert created.returncode == 0, created.stdout
        assert "2 host(s): web1, db1" in created.stdout
        assert step("verify").returncode == 1  # nothing converged yet
        first = step("converge")
        assert first.returncode == 2, first.stdout  # it changed something
        assert "2 change(s) on 2 host(s)" in first.stdout
        second = step("converge")
        assert second.returncode == 0, second.stdout
        assert "0 change(s) on 2 host(s)" in second.stdout
        verified = step("verify")
        assert verified.returncode == 0, verified.stdout
        assert "2 passed" in verified.stdout
    finally:
        destroyed = step("destroy")
    assert destroyed.returncode == 0 and f"lab {ROLETEST_LAB} removed" in destroyed.stdout
    assert Lab.load(ROLETEST_LAB) is None


@pytest.mark.lab
@pytest.mark.slow
def test_molecule_test_passes_on_the_nginx_scenario() -> None:
    venv_bin = Path(ORC).parent
    if not (venv_bin / "molecule").exists():
        pytest.fail("molecule is not installed: pip install -e '.[test]' (it pulls the "
                    "molecule extra)")
    env = dict(os.environ, PATH=f"{venv_bin}:{os.environ['PATH']}",
               ORC_MOLECULE_LAB=MOLECULE_LAB, ANSIBLE_NOCOLOR="1", NO_COLOR="1")
    proc = subprocess.run(["molecule", "test"], cwd=REPO / "roles" / "nginx", env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert re.search(r"idempotence.*Executed: Successful", output)
    assert re.search(r"5 passed", output)
    assert "Executing Testinfra tests" in output
    assert Lab.load(MOLECULE_LAB) is None
