"""`orc rollback RUN` on real lab hosts: the journal recorded on each host before a run brings
every resource kind back byte for byte, from the run index or from the hosts alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.orc import CURL, run_orc
from tests.support.rollouts import DATA, snapshot

pytestmark = [pytest.mark.lab, pytest.mark.slow]

BOOKS = DATA / "rollback"
HOSTS = 2


@pytest.fixture(scope="module")
def work(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory,
         example_estate_env):
    path = tmp_path_factory.mktemp("rollback")
    return {"dir": path, "names": [h.name for h in lab.hosts[:HOSTS]],
            "inventory": lab_inventory}


def apply(work, playbook: str, *args: str, state: Path | None = None) -> str:
    report = work["dir"] / "report.json"
    state = state or work["dir"] / ".orc"
    proc = run_orc("apply", str(BOOKS / playbook), "-i", str(work["inventory"]), "--yes", "--ci",
                   "--limit", ",".join(work["names"]), "--state-dir", str(state),
                   "--json", str(report), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(report.read_text())["run_id"]


def test_rollback_restores_every_resource_kind_byte_for_byte(work, ssh) -> None:
    names = work["names"]
    before = snapshot(ssh, names)
    # a value of its own, so the run changes something even on hosts converged before
    estate = apply(work, "estate.yaml", "-e", "common_environment=estate")
    deployed = snapshot(ssh, names)
    change = apply(work, "change.yaml", "-e", "app_version=2.0.0", "-e", "common_environment=prod",
                   "-e", "common_somaxconn=2048")
    changed = snapshot(ssh, names)
    assert all(changed[n] != deployed[n] for n in names)

    shown = run_orc("show", change, "--json", "--state-dir", str(work["dir"] / ".orc"))
    recorded = json.loads(shown.stdout)["preimages"]
    kinds = {r["kind"] for r in recorded}
    assert kinds >= {"path", "package", "service", "entry", "sysctl", "command"}
    assert not any("$" in r["summary"] for r in recorded)  # no password hash leaves the host

    back = run_orc("rollback", change, "--state-dir", str(work["dir"] / ".orc"))
    # exit 3: restored, but `command: "true"` has no undo and is listed as irreversible
    assert back.returncode == 3, back.stdout + back.stderr
    assert "irreversible" in back.stdout
    assert snapshot(ssh, names) == deployed
    for name in names:
        health = ssh(name, f"{CURL} -o /dev/null -w '%{{http_code}}' http://localhost/healthz")
        assert health.stdout == "200"
        version = ssh(name, f"{CURL} http://localhost/")
        assert json.loads(version.stdout)["version"] == "1.0.0"

    # the first run, from another directory with an empty index: the hosts' journals suffice
    elsewhere = work["dir"] / "elsewhere"
    again = run_orc("rollback", estate, "-i", str(work["inventory"]), "--limit",
                    ",".join(names), "--state-dir", str(elsewhere / ".orc"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert snapshot(ssh, names) == before


def test_a_rolled_back_run_is_not_rolled_back_twice(work) -> None:
    # a run and an index of its own: the test passes alone, not only after the one above
    state = work["dir"] / "twice" / ".orc"
    run = apply(work, "estate.yaml", "-e", "common_environment=twice", state=state)
    once = run_orc("rollback", run, "--state-dir", str(state))
    assert once.returncode == 0, once.stdout + once.stderr
    runs = json.loads(run_orc("runs", "--json", "--state-dir", str(state)).stdout)
    assert [(r["id"], r["status"]) for r in runs] == [(run, "rolled-back")]
    twice = run_orc("rollback", run, "--state-dir", str(state))
    assert twice.returncode == 1 and "already rolled back" in twice.stderr
