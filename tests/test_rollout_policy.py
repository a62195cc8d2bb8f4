"""A play's rollout keys are read when the playbook loads: a bad `rollback`, `serial`, `health`
or `bake` is one line at its file:line from `orc apply`, `orc plan` and `--syntax-check`, and
no run is ever recorded for it (before, `orc apply` recorded a run and marked it failed). The
hosts are on TEST-NET addresses (RFC 5737) and are never contacted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook
from orchestrator.rollout.store import RunStore
from tests.support.orc import ORC

BAD = [
    ("rollback: bogus", "4: rollback: 'bogus' is not one of auto, wave, manual"),
    ("serial: [1, lots]", "4: serial entry 'lots': expected a count or a percentage"),
    ("serial: -2", "4: serial entry -2 is negative"),
    ("health: [{http: 'http://x/', retries: many}]",
     "4: health check retries: 'many' is not an integer"),
    ("health: [{smtp: x}]", "4: health check: unknown key 'smtp'"),
    ("bake: soon", "4: bake 'soon': expected a number of seconds"),
]


def _book(tmp_path: Path, key: str) -> Path:
    book = tmp_path / "site.yaml"
    book.write_text(f"- name: web\n  hosts: all\n  gather_facts: false\n  {key}\n"
                    "  tasks:\n    - command: 'true'\n")
    return book


def _inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.json"
    path.write_text(json.dumps({"all": {"hosts": {
        f"web{n}": {"ansible_host": f"192.0.2.{n}"} for n in (1, 2)}}}))
    return path


@pytest.mark.parametrize("key, error", BAD)
def test_a_bad_rollout_key_fails_the_load_at_its_line(tmp_path: Path, key: str,
                                                      error: str) -> None:
    book = _book(tmp_path, key)
    with pytest.raises(InputError) as err:
        load_playbook(book)
    assert str(err.value).startswith(f"{book}:{error}"), str(err.value)


@pytest.mark.parametrize("key, error", BAD)
def test_orc_apply_refuses_it_in_one_line_and_records_no_run(tmp_path: Path, key: str,
                                                              error: str) -> None:
    book, state = _book(tmp_path, key), tmp_path / "state"
    for command in (["apply", "--yes", "--ci"], ["plan"], ["apply", "--syntax-check"]):
        done = subprocess.run([ORC, command[0], str(book), "-i", str(_inventory(tmp_path)),
                               *command[1:], *(["--state-dir", str(state)]
                                               if command[0] == "apply" else [])],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert done.stderr.startswith(f"error: {book}:{error}"), done.stderr
        assert done.stderr.count("\n") == 1 and "wave" not in done.stdout
        assert RunStore(state).list() == []
