"""ansible-playbook's options where users type them, errors before a run exists, `--yes` on
every command that asks, shell completion and packaging: through the real `orc` command, with
hosts that are never contacted (nothing here needs one)."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook
from orchestrator.load.startat import start_at_task
from tests.support.orc import ORC, REPO

SITE = REPO / "site.yaml"


def orc(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO
        ) -> subprocess.CompletedProcess:
    return subprocess.run([ORC, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env=env)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """Forty hosts on TEST-NET addresses (RFC 5737): a listing must not contact them."""
    hosts = {f"web{n:02d}": {"ansible_host": f"192.0.2.{n}"} for n in range(1, 41)}
    path = tmp_path / "fleet.yaml"
    path.write_text(json.dumps({"all": {"hosts": hosts}}))
    return path


def test_list_hosts_prints_each_play_its_hosts_and_waves(fleet: Path) -> None:
    done = orc("apply", str(SITE), "-i", str(fleet), "--list-hosts", "-l", "web0*")
    assert done.returncode == 0, done.stderr
    assert "play #1 (all): web tier" in done.stdout
    assert "hosts (9):" in done.stdout and "      web09\n" in done.stdout
    assert "wave 1 (1 host):" in done.stdout and "wave 3 (4 hosts):" in done.stdout


def test_list_tasks_starts_at_a_task(fleet: Path) -> None:
    done = orc("plan", str(SITE), "-i", str(fleet), "--list-tasks")
    assert done.returncode == 0, done.stderr
    tasks = [line.strip() for line in done.stdout.splitlines() if " : " in line]
    assert tasks[0].startswith("common : ")
    started = orc("plan", str(SITE), "-i", str(fleet), "--list-tasks", "--start-at-task",
                  "app : application con*")
    later = [line.strip() for line in started.stdout.splitlines() if " : " in line]
    assert later[0].startswith("app : application config")
    assert len(later) < len(tasks) and all(not t.startswith("common") for t in later)


def test_list_tasks_follows_tags(fleet: Path, tmp_path: Path) -> None:
    book = tmp_path / "tagged.yaml"
    book.write_text("- hosts: all\n  tasks:\n"
                    "    - {name: one, command: 'true', tags: [web]}\n"
                    "    - {name: two, command: 'true', tags: [db]}\n"
                    "    - {name: three, command: 'true', tags: [always]}\n")
    listed = orc("plan", str(book), "-i", str(fleet), "--list-tasks", "-t", "web")
    assert [line.split("\t")[0].strip() for line in listed.stdout.splitlines()
            if "TAGS" in line] == ["one", "three"]
    skipped = orc("plan", str(book), "-i", str(fleet), "--list-tasks", "--skip-tags", "web")
    assert [line.split("\t")[0].strip() for line in skipped.stdout.splitlines()
            if "TAGS" in line] == ["two", "three"]


def test_start_at_task_keeps_handlers_and_refuses_a_name_no_task_has() -> None:
    book = start_at_task(load_playbook(SITE), "nginx installed")
    play = book.plays[0]
    assert [r.name for _, r in play.roles if r.tasks] == ["nginx"]
    assert {h.name for h in play.all_handlers()} == {h.name for h in
                                                      load_playbook(SITE).plays[0].all_handlers()}
    with pytest.raises(InputError, match="no task of the playbook matches"):
        start_at_task(load_playbook(SITE), "no such task")


def test_syntax_check_loads_and_checks_policies_without_hosts(fleet: Path,
                                                               tmp_path: Path) -> None:
    done = orc("apply", str(SITE), "-i", str(fleet), "--syntax-check")
    assert done.returncode == 0 and "playbook:" in done.stdout, done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("- hosts: all\n  serial: [1, lots]\n  tasks: []\n")
    refused = orc("apply", str(bad), "-i", str(fleet), "--syntax-check")
    assert refused.returncode == 1 and "serial entry 'lots'" in refused.stderr


def test_an_error_that_needs_no_host_comes_before_the_run_exists(fleet: Path,
                                                                  tmp_path: Path) -> None:
    """No age identity: the secret file cannot be read; nothing is recorded, no wave named."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORC_AGE_KEY", "ORC_AGE_KEY_FILE", "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    state = tmp_path / "state"
    done = orc("apply", str(SITE), "-i", str(fleet), "--yes", "--ci", "--state-dir",
               str(state), env=env)
    assert done.returncode == 1
    assert "no age identity" in done.stderr and "Traceback" not in done.stderr
    assert "wave" not in done.stdout and "run " not in done.stdout
    listed = orc("runs", "--json", "--state-dir", str(state), env=env)
    assert json.loads(listed.stdout) == []


def test_check_and_diff_are_ansibles_words_for_a_plan(fleet: Path) -> None:
    refused = orc("apply", str(SITE), "-i", str(fleet), "--diff")
    assert refused.returncode == 1 and "use it with --check" in refused.stderr
    refused = orc("apply", str(SITE), "-i", str(fleet), "--check", "--junit", "x.xml")
    assert refused.returncode == 1 and "--check changes nothing" in refused.stderr


@pytest.mark.parametrize("command", ["apply", "rollback"])
def test_every_command_that_asks_takes_yes(command: str) -> None:
    done = orc(command, "--help")
    assert "-y, --yes" in done.stdout


def test_rollback_yes_is_accepted(tmp_path: Path) -> None:
    done = orc("rollback", "no-such-run", "--yes", "--state-dir", str(tmp_path))
    assert "no such option" not in done.stderr
    assert "no run 'no-such-run'" in done.stderr


def test_ansible_playbook_options_are_there() -> None:
    for command in ("plan", "apply"):
        text = orc(command, "--help").stdout
        for option in ("-l, --limit", "-t, --tags", "--skip-tags", "-e, --extra-vars",
                       "-f, --forks", "--start-at-task", "--list-hosts", "--list-tasks",
                       "--syntax-check", "-v, --verbose, --per-host"):
            assert option in text, f"orc {command}: {option}"
    assert "-C, --check" in orc("apply", "--help").stdout
    assert "--json" in orc("plan", "--help").stdout and "--markdown" in orc(
        "plan", "--help").stdout


def test_shell_completion_is_clicks() -> None:
    script = subprocess.run([ORC], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "_ORC_COMPLETE": "bash_source"})
    assert "complete -o nosort -F _orc_completion orc" in script.stdout
    words = subprocess.run([ORC], capture_output=True, text=True, timeout=60, env={
        **os.environ, "_ORC_COMPLETE": "bash_complete", "COMP_WORDS": "orc roll",
        "COMP_CWORD": "1"})
    assert "plain,rollback" in words.stdout
    options = subprocess.run([ORC], capture_output=True, text=True, timeout=60, env={
        **os.environ, "_ORC_COMPLETE": "bash_complete", "COMP_WORDS": "orc plan --list-",
        "COMP_CWORD": "2"})
    assert "plain,--list-hosts" in options.stdout


def test_license_is_an_spdx_expression_with_its_text() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def test_pause_after_wave_counts_from_the_first(fleet: Path) -> None:
    refused = orc("apply", str(SITE), "-i", str(fleet), "--pause-after-wave", "0")
    assert refused.returncode == 2 and "x>=1" in refused.stderr
