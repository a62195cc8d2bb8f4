"""The run index: ids, positions, and the controller side of the rollout lock."""

from __future__ import annotations

import subprocess

import pytest

from orchestrator.errors import LockError
from orchestrator.rollout.store import INTERRUPTED, PAUSED, SUCCEEDED, RunStore


def test_a_second_run_on_shared_hosts_is_refused_naming_the_first(tmp_path) -> None:
    store = RunStore(tmp_path)
    first = store.start("site.yaml", ["inv.yaml"], {}, ["web1", "web2"])
    with pytest.raises(LockError, match=f"run {first.id} \\(running, pid \\d+\\) holds web2"):
        store.start("site.yaml", ["inv.yaml"], {}, ["web2", "web3"])
    assert store.start("site.yaml", ["inv.yaml"], {}, ["web3"]).status == "running"


def test_a_paused_run_keeps_its_hosts_and_a_finished_one_frees_them(tmp_path) -> None:
    store = RunStore(tmp_path)
    run = store.start("site.yaml", [], {}, ["web1"])
    store.set_status(run.id, PAUSED, {"play": 0, "wave": 1})
    with pytest.raises(LockError):
        store.start("site.yaml", [], {}, ["web1"])
    assert store.get(run.id).position == {"play": 0, "wave": 1}
    store.set_status(run.id, SUCCEEDED)
    store.start("site.yaml", [], {}, ["web1"])


def test_a_run_whose_process_died_is_interrupted_and_holds_nothing(tmp_path) -> None:
    store = RunStore(tmp_path)
    run = store.start("site.yaml", [], {}, ["web1"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    with store._db() as db:
        db.execute("UPDATE runs SET pid=? WHERE id=?", (dead.pid, run.id))
    store.start("site.yaml", [], {}, ["web1"])
    assert store.get(run.id).status == INTERRUPTED


def test_runs_are_found_by_a_unique_prefix(tmp_path) -> None:
    store = RunStore(tmp_path)
    run = store.start("site.yaml", [], {}, [])
    assert store.get(run.id[:-2]).id == run.id


def test_hosts_are_the_same_machine_by_address_whatever_their_names(tmp_path) -> None:
    store = RunStore(tmp_path)
    first = store.start("site.yaml", [], {}, ["web1@10.0.0.1:22"])
    store.start("other.yaml", [], {}, ["web1@10.9.9.9:22"])  # another lab's web1
    with pytest.raises(LockError, match=f"run {first.id} .* holds web1@10.0.0.1:22"):
        store.start("site.yaml", [], {}, ["frontend@10.0.0.1:22"])
