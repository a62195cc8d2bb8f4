"""The run's life through the rollout API, as the CLI drives it: `start_run` checks what needs
no host, asks, records the run holding its hosts and keeps the options `resume_run` rebuilds;
nothing here reaches a host (the inventory is on TEST-NET addresses, RFC 5737)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.engine.options import RunOptions
from orchestrator.errors import InputError, LockError
from orchestrator.rollout.run import load_run, resume_run, start_run
from orchestrator.rollout.store import PAUSED, SUCCEEDED, RunStore

BOOK = """\
- name: web
  hosts: web
  serial: 1
  canary: {canary}
  tasks:
    - name: one
      command: "true"
    - name: two
      command: "true"
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    hosts = {f"web{n}": {"ansible_host": f"192.0.2.{n}"} for n in (1, 2, 3)}
    (tmp_path / "inventory.json").write_text(json.dumps({"web": {"hosts": hosts}}))
    (tmp_path / "site.yaml").write_text(BOOK.format(canary="web2"))
    return tmp_path


def _load(work: Path, options: RunOptions):
    return load_run(work / "site.yaml", [str(work / "inventory.json")], options)


def test_a_run_is_recorded_holding_its_hosts_with_its_options(work: Path) -> None:
    options = RunOptions(extra_vars={"v": "2"}, tags=frozenset({"b", "a"}), limit="web1,web2",
                         keep_runs=5, forks=3, pause_after_wave=1)
    store = RunStore(work / ".orc")
    asked: list[list[str]] = []
    rollout = start_run(*_load(work, options), options, store, confirm=asked.append)
    assert asked == [["web1", "web2"]]
    run = store.get(rollout.run.id)
    assert run.status == "running" and run.playbook == str((work / "site.yaml").resolve())
    assert [h.partition("@")[0] for h in run.hosts] == ["web1", "web2"]
    assert RunOptions.from_dict(run.options) == options
    assert rollout.waves()[0][1][0].hosts == ("web2",)  # the pinned canary
    with pytest.raises(LockError, match=f"run {run.id} .* holds web1@192.0.2.1:22 and 1 more"):
        start_run(*_load(work, RunOptions()), RunOptions(), store)


def test_a_confirmation_refused_or_a_canary_not_among_the_hosts_records_nothing(
        work: Path) -> None:
    store = RunStore(work / ".orc")

    def refuse(hosts: list[str]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        start_run(*_load(work, RunOptions()), RunOptions(), store, confirm=refuse)
    limited = RunOptions(limit="web1")
    with pytest.raises(InputError, match="site.yaml:1: canary 'web2' is not among"):
        start_run(*_load(work, limited), limited, store)
    assert store.list() == []


def test_a_paused_run_resumes_with_the_options_it_started_with(work: Path) -> None:
    options = RunOptions(skip_tags=frozenset({"slow"}), start_at_task="two",
                         allow_downgrade=True)
    store = RunStore(work / ".orc")
    started = start_run(*_load(work, options), options, store)
    with pytest.raises(InputError, match="is running: only a paused or interrupted run"):
        resume_run(store, started.run.id)
    store.set_status(started.run.id, PAUSED, {"play": 0, "wave": 1})
    resumed = resume_run(store, started.run.id)
    assert resumed.run.id == started.run.id and resumed.run.status == "running"
    # the same options, and the state dir of the index it resumed from (for the fact reads kept)
    assert resumed.options == replace(options, state_dir=str(work / ".orc"))
    assert started.options == resumed.options
    assert [t.name for t in resumed.book.plays[0].tasks] == ["two"]  # from --start-at-task on
    assert sorted(resumed.inventory.select("all", None)) == ["web1", "web2", "web3"]
    store.set_status(started.run.id, SUCCEEDED)
    with pytest.raises(InputError, match="is succeeded"):
        resume_run(store, started.run.id)


def test_older_runs_are_forgotten_beyond_keep_runs(work: Path) -> None:
    store = RunStore(work / ".orc")
    ids = []
    for _ in range(3):
        options = RunOptions(keep_runs=2)
        rollout = start_run(*_load(work, options), options, store)
        store.set_status(rollout.run.id, SUCCEEDED)
        ids.append(rollout.run.id)
    assert [r.id for r in store.list()] == ids[:0:-1]


@pytest.mark.parametrize("options", [
    RunOptions(),
    RunOptions(extra_vars={"a": [1, {"b": None}]}, tags=frozenset({"x"}), limit="web*",
               allow_downgrade=True, keep_runs=0, forks=7, start_at_task="t",
               pause_after_wave=2),
])
def test_options_survive_the_index(options: RunOptions) -> None:
    kept = json.loads(json.dumps(options.to_dict()))
    assert RunOptions.from_dict(kept) == options


def test_options_kept_by_an_older_orc_take_their_defaults() -> None:
    old = {"extra_vars": {}, "tags": [], "skip_tags": [], "limit": None,
           "allow_downgrade": False}
    assert RunOptions.from_dict(old) == RunOptions()
