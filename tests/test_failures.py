"""Errors are failures, on real lab hosts over SSH: an exception at any stage of one host's path
(load, render, operation build, run, journal, health) fails that host, with its file:line and
one line of why, in the wave's reason and in the summary table alike, and `orc apply` (and
`orc plan`) exit 1. The other hosts go on; on the failed one, the tasks before the failing one
ran and nothing after it, as in Ansible.

Each fault is made by real means (a template dividing by zero on one host, a file pyinfra cannot
find, a journal directory that cannot be made, a failing health check), except an exception
inside a running operation, which only the ORC_FAULT test hook (orchestrator/faults.py) makes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.orc import run_orc

pytestmark = pytest.mark.lab

MARK = "/tmp/orc-failures"
# a task every host runs, and the place (line 4) where a stage is made to fail on one host
PLAY = """\
- hosts: all
{play_keys}  tasks:
    - copy: {{content: "done\\n", dest: {mark}, mode: '0644'}}
{task}
"""


def _book(tmp_path: Path, task: str = "", play_keys: str = "") -> Path:
    book = tmp_path / "book.yaml"
    book.write_text(PLAY.format(task=task, play_keys=play_keys, mark=MARK))
    return book


def _apply(book: Path, inventory: Path, hosts: list[str], tmp_path: Path
           ) -> tuple[int, str, dict]:
    report = tmp_path / "report.json"
    proc = run_orc("apply", str(book), "-i", str(inventory), "--limit", ",".join(hosts),
                   "--yes", "--ci", "--json", str(report), "--state-dir", str(tmp_path / ".orc"))
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, proc.stdout + proc.stderr, data


def _table_status(output: str, host: str) -> str:
    """The status the summary table gives a host."""
    match = re.search(rf"│\s*{host}\s*│\s*(\w+)", output)
    assert match, output
    return match.group(1)


def _on_one_host(bad: str, other: str) -> str:
    """A Jinja expression that is 0 on `bad` and 1 elsewhere."""
    return f"(0 if inventory_hostname == '{bad}' else 1)"


STAGES = {
    # a template raising on one host only
    "render": lambda bad: (
        f"    - copy: {{content: \"{{{{ 1 / {_on_one_host(bad, '')} }}}}\", dest: {MARK}-2}}\n",
        "", "ZeroDivisionError: division by zero"),
    # a variable undefined on one host only
    "undefined": lambda bad: (
        f"    - copy: {{content: \"{{{{ 'ok' if inventory_hostname != '{bad}' else nope }}}}\", "
        f"dest: {MARK}-2}}\n",
        "", "undefined variable: 'nope' is undefined"),
    # an argument pyinfra refuses when the operation is built (its local file is missing)
    "build": lambda bad: (
        "    - pyinfra.files.put:\n"
        f"        src: \"{{{{ '/nonexistent' if inventory_hostname == '{bad}' "
        "else playbook_dir + '/book.yaml' }}\"\n"
        f"        dest: {MARK}-2\n",
        "", "pyinfra.files.put: No such file: /nonexistent"),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_raising_on_one_host_fails_that_host_only(stage: str, lab: Lab,
                                                          lab_inventory: Path, tmp_path: Path,
                                                          ssh) -> None:
    bad, good = lab.hosts[0].name, lab.hosts[1].name
    task, play_keys, why = STAGES[stage](bad)
    book = _book(tmp_path, task, play_keys)
    for host in (bad, good):
        ssh(host, f"rm -f {MARK} {MARK}-2")
    plan = run_orc("plan", str(book), "-i", str(lab_inventory), "--limit", f"{bad},{good}")
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert _table_status(plan.stdout, bad) == "failed"
    assert _table_status(plan.stdout, good) == "changed"

    code, output, report = _apply(book, lab_inventory, [bad, good], tmp_path)
    assert code == 1, output
    [wave] = report["waves"]
    assert wave["failed_hosts"] == [bad]
    assert f"{bad}: {book}:4: {why}" in wave["reason"]
    assert report["status"] == "halted"
    assert _table_status(output, bad) == "failed"
    assert _table_status(output, good) == "changed"
    tasks = wave["apply"]["hosts"][bad]["tasks"]
    assert [t["status"] for t in tasks] == ["changed", "failed"]
    assert ssh(bad, f"cat {MARK}").stdout == "done\n"  # the task before the failure ran
    assert ssh(bad, f"test -e {MARK}-2").returncode == 1
    assert ssh(good, f"cat {MARK}").stdout == "done\n"


def test_an_exception_while_an_operation_runs_fails_that_host(lab: Lab, lab_inventory: Path,
                                                              tmp_path: Path, ssh,
                                                              monkeypatch) -> None:
    bad, good = lab.hosts[0].name, lab.hosts[1].name
    for host in (bad, good):
        ssh(host, f"rm -f {MARK}")
    monkeypatch.setenv("ORC_FAULT", f"run@{bad}")
    code, output, report = _apply(_book(tmp_path), lab_inventory, [bad, good], tmp_path)
    assert code == 1, output
    [wave] = report["waves"]
    assert wave["failed_hosts"] == [bad]
    assert f"{bad}: {tmp_path / 'book.yaml'}:3: InjectedFault: injected fault" in wave["reason"]
    assert _table_status(output, bad) == "failed"
    assert _table_status(output, good) == "changed"
    assert ssh(bad, f"test -e {MARK}").returncode == 1
    assert ssh(good, f"cat {MARK}").stdout == "done\n"


def test_a_journal_that_cannot_be_written_fails_its_host(lab: Lab, lab_inventory: Path,
                                                         tmp_path: Path, ssh) -> None:
    bad, good = lab.hosts[0].name, lab.hosts[1].name
    for host in (bad, good):
        ssh(host, f"rm -f {MARK}")
    # a file where the journal's directory should be: even root cannot write there
    ssh(bad, "mkdir -p /var/lib/orc && mv /var/lib/orc/runs /var/lib/orc/runs.kept 2>/dev/null;"
             " touch /var/lib/orc/runs")
    try:
        code, output, report = _apply(_book(tmp_path), lab_inventory, [bad, good], tmp_path)
    finally:
        ssh(bad, "rm -f /var/lib/orc/runs; mv /var/lib/orc/runs.kept /var/lib/orc/runs "
                 "2>/dev/null; true")
    assert code == 1, output
    [wave] = report["waves"]
    assert wave["failed_hosts"] == [bad]
    assert f"{bad}: journal: {bad}: could not write the journal" in wave["reason"]
    assert _table_status(output, bad) == "failed"  # the table says what the wave says
    assert _table_status(output, good) == "changed"
    assert ssh(bad, f"test -e {MARK}").returncode == 1
    assert ssh(good, f"cat {MARK}").stdout == "done\n"


@pytest.mark.parametrize("check, why", [
    ("test {{ inventory_hostname }} != {bad}", "exit 1"),
    ("test {{ 1 / (0 if inventory_hostname == '{bad}' else 1) }} = 1.0",
     "book.yaml:3: ZeroDivisionError: division by zero"),
], ids=["fails", "raises"])
def test_a_health_check_failing_or_raising_fails_its_host(check: str, why: str, lab: Lab,
                                                          lab_inventory: Path, tmp_path: Path,
                                                          ssh) -> None:
    bad, good = lab.hosts[0].name, lab.hosts[1].name
    keys = f"  health:\n    - command: \"{check.replace('{bad}', bad)}\"\n      retries: 0\n"
    code, output, report = _apply(_book(tmp_path, play_keys=keys), lab_inventory, [bad, good],
                                  tmp_path)
    assert code == 1, output
    [wave] = report["waves"]
    assert wave["failed_hosts"] == [bad]
    assert why in wave["reason"]
    assert _table_status(output, bad) == "failed"
    assert _table_status(output, good) in ("ok", "changed")


@pytest.mark.parametrize("task, why", [
    ("    - aptt: {name: curl}\n", "4: unknown module 'aptt'"),
    ("    - copy: {content: x, dest: [}\n", "4: invalid YAML"),
    ("    - apt: {name: curl, cache_valid_time: 1h}\n",
     "4: apt: argument 'cache_valid_time' expects an integer: '1h' is not an integer"),
    ("    - command: /bin/true\n      ignore_errors: maybe\n",
     "5: ignore_errors: 'maybe' is not a boolean"),
], ids=["unknown-module", "bad-yaml", "bad-argument", "bad-boolean"])
def test_a_load_error_is_one_line_and_touches_no_host(task: str, why: str, lab: Lab,
                                                      lab_inventory: Path, tmp_path: Path,
                                                      ssh) -> None:
    host = lab.hosts[0].name
    ssh(host, f"rm -f {MARK}")
    book = _book(tmp_path, task)
    for command in (("plan",), ("apply", "--yes", "--ci", "--state-dir", str(tmp_path / ".o"))):
        proc = run_orc(*command, str(book), "-i", str(lab_inventory), "--limit", host)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        [line] = proc.stderr.strip().splitlines()
        assert line.startswith(f"error: {book}:{why}"), line
    assert ssh(host, f"test -e {MARK}").returncode == 1


def test_the_same_error_on_every_host_is_said_once_before_any_host_runs(
        lab: Lab, lab_inventory: Path, tmp_path: Path, ssh) -> None:
    hosts = [h.name for h in lab.hosts[:2]]
    for host in hosts:
        ssh(host, f"rm -f {MARK}")
    book = _book(tmp_path, "    - copy: {content: \"{{ 1 / 0 }}\", dest: /tmp/x}\n")
    code, output, _ = _apply(book, lab_inventory, hosts, tmp_path)
    assert code == 1
    assert output.strip().splitlines()[-1] == f"error: {book}:4: ZeroDivisionError: division by zero"
    for host in hosts:
        assert ssh(host, f"test -e {MARK}").returncode == 1


def test_ignore_errors_is_read_as_ansible_reads_a_boolean(lab: Lab, lab_inventory: Path,
                                                          tmp_path: Path) -> None:
    host = lab.hosts[0].name
    book = _book(tmp_path, "    - command: /bin/false\n      ignore_errors: \"{{ tolerate }}\"\n")
    for tolerate, code in (("false", 1), ("no", 1), ("'off'", 1), ("true", 0), ("yes", 0)):
        proc = run_orc("apply", str(book), "-i", str(lab_inventory), "--limit", host, "--yes",
                       "--ci", "-e", f"tolerate={tolerate}",
                       "--state-dir", str(tmp_path / ".orc"))
        assert proc.returncode == code, (tolerate, proc.stdout + proc.stderr)
    proc = run_orc("apply", str(book), "-i", str(lab_inventory), "--limit", host, "--yes",
                   "--ci", "-e", "tolerate=maybe", "--state-dir", str(tmp_path / ".orc"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"error: {book}:4: ignore_errors: 'maybe' is not a boolean "
                                   "(expected yes/no, true/false, on/off or 1/0)")


def test_a_string_number_for_an_int_argument_works_as_in_ansible(lab: Lab, lab_inventory: Path,
                                                                 tmp_path: Path, ssh) -> None:
    host = lab.hosts[0].name
    # a fresh apt stamp: pyinfra compares its age with cache_valid_time, and updates nothing
    ssh(host, "mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp")
    book = _book(tmp_path, "    - apt: {name: openssh-server, update_cache: \"yes\", "
                           "cache_valid_time: \"{{ '36' + '00' }}\"}\n")
    ssh(host, f"rm -f {MARK}")
    code, output, report = _apply(book, lab_inventory, [host], tmp_path)
    assert code == 0, output
    tasks = report["waves"][0]["apply"]["hosts"][host]["tasks"]
    assert [t["status"] for t in tasks] == ["changed", "ok"]
