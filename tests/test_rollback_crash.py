"""A controller killed with SIGKILL in the middle of a 3-wave rollout: the run shows as
interrupted, and either `orc resume` completes it or `orc rollback` restores the exact snapshot
from what the hosts recorded."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from orchestrator.undo.record import KILL_AFTER
from orchestrator.lab import Lab
from tests.support.orc import CURL, run_orc, setup_step
from tests.support.rollouts import playbook, snapshot

pytestmark = [pytest.mark.lab, pytest.mark.slow]

HOSTS = 3
# operations run before the kill: right after the first journal, in the canary, at the end of
# the canary, in the second wave, in the third (about 20 operations a host and wave)
KILL_POINTS = (0, 5, 21, 30, 48)


@pytest.fixture(scope="module")
def fleet(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory,
          example_estate_env):
    work = tmp_path_factory.mktemp("crash")
    names = [h.name for h in lab.hosts[:HOSTS]]
    (work / "waves.yaml").write_text(playbook("[1, 1, 1]", "manual", names[0]))
    fleet = {"work": work, "names": names, "inventory": lab_inventory}
    # the release every case starts from: a rollback ends with the play's health checks, which
    # pass only where the app was serving before the killed run
    setup_step(orc(fleet, "apply", str(work / "waves.yaml"), "-i", str(lab_inventory),
                   "--limit", ",".join(names), "--yes", "--ci", "-e", "app_version=1.0.0"),
               "converging release 1.0.0")
    return fleet


def orc(fleet, *args: str):
    return run_orc(*args, "--state-dir", str(fleet["work"] / ".orc"))


def version(ssh, name: str) -> str | None:
    proc = ssh(name, "cat /etc/app/config.json")
    return json.loads(proc.stdout)["version"] if proc.returncode == 0 else None


@pytest.mark.parametrize("point", range(len(KILL_POINTS)))
def test_a_killed_rollout_resumes_or_rolls_back_exactly(fleet, ssh, point: int) -> None:
    names = fleet["names"]
    release = f"{point + 2}.0.0"
    before = snapshot(ssh, names)
    os.environ[KILL_AFTER] = str(KILL_POINTS[point])
    try:
        killed = orc(fleet, "apply", str(fleet["work"] / "waves.yaml"), "-i",
                     str(fleet["inventory"]), "--limit", ",".join(names), "--yes", "--ci",
                     "-e", f"app_version={release}")
    finally:
        os.environ.pop(KILL_AFTER)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    [run] = [r for r in json.loads(orc(fleet, "runs", "--json").stdout)
             if r["status"] not in ("succeeded", "rolled-back")]
    assert run["status"] == "interrupted"
    if point % 2 == 0:
        back = orc(fleet, "rollback", run["id"])
        assert back.returncode == 0, back.stdout + back.stderr
        assert snapshot(ssh, names) == before
        # the killed run's host locks went with it: another controller may roll out now
        assert all(ssh(n, "test -e /var/lib/orc/rollout.lock").returncode == 1 for n in names)
    else:
        resumed = orc(fleet, "resume", run["id"], "--ci")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert {version(ssh, n) for n in names} == {release}
        for name in names:
            health = ssh(name, f"{CURL} -o /dev/null -w '%{{http_code}}' http://localhost/healthz")
            assert health.stdout == "200"
