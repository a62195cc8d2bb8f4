"""`rollback: auto` and `rollback: wave` in a rollout on real lab hosts: a failed wave is
restored from the hosts' journals and the app answers /healthz again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.orc import CURL, run_orc, setup_step
from tests.support.rollouts import playbook, snapshot

pytestmark = [pytest.mark.lab, pytest.mark.slow]

HOSTS = 2


@pytest.fixture(scope="module")
def fleet(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory,
          example_estate_env):
    """Two hosts with release 1.0.0, and playbooks for each rollback policy."""
    work = tmp_path_factory.mktemp("rollback-rollout")
    names = [h.name for h in lab.hosts[:HOSTS]]
    for name, serial, rollback in (("converge", "0", "manual"), ("auto", "[1, 1]", "auto"),
                                   ("wave", "[1, 1]", "wave")):
        (work / f"{name}.yaml").write_text(playbook(serial, rollback, names[0]))
    # the second host's release is unhealthy: an inventory source that only sets that
    (work / "unhealthy.yaml").write_text(
        f"all:\n  hosts:\n    {names[1]}:\n      app_healthy: false\n")
    fleet = {"work": work, "names": names, "inventory": lab_inventory}
    setup_step(rollout(fleet, "converge", "-e", "app_version=1.0.0")[0],
               "converging release 1.0.0")
    return fleet


def rollout(fleet, playbook: str, *args: str, inventories: tuple[Path, ...] = ()):
    report = fleet["work"] / "report.json"
    report.unlink(missing_ok=True)
    sources = [a for path in (fleet["inventory"], *inventories) for a in ("-i", str(path))]
    proc = run_orc("apply", str(fleet["work"] / f"{playbook}.yaml"), *sources, "--yes", "--ci",
                   "--limit", ",".join(fleet["names"]), "--state-dir",
                   str(fleet["work"] / ".orc"), "--json", str(report), *args)
    return proc, json.loads(report.read_text()) if report.exists() else None


def served(ssh, name: str) -> tuple[str, str]:
    health = ssh(name, f"{CURL} -o /dev/null -w '%{{http_code}}' http://localhost/healthz").stdout
    version = json.loads(ssh(name, "cat /etc/app/config.json").stdout)["version"]
    return health, version


def test_a_failed_canary_with_rollback_auto_is_restored_and_healthy(fleet, ssh) -> None:
    canary = fleet["names"][0]
    before = snapshot(ssh, fleet["names"])
    proc, report = rollout(fleet, "auto", "-e", "app_version=3.0.0", "-e", "app_healthy=false")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report["status"] == "rolled-back"
    [wave] = report["waves"]
    assert wave["hosts"] == [canary] and wave["failed_hosts"] == [canary]
    assert report["rollback"]["ok"] and list(report["rollback"]["hosts"]) == [canary]
    assert report["rollback"]["hosts"][canary]["restored"] > 0
    assert "restart app: ran" in report["rollback"]["hosts"][canary]["handlers"]
    assert all(r["ok"] for r in report["rollback"]["health"][canary])
    assert snapshot(ssh, fleet["names"]) == before
    assert served(ssh, canary) == ("200", "1.0.0")


def test_rollback_wave_restores_only_the_failed_wave(fleet, ssh) -> None:
    first, second = fleet["names"]
    proc, report = rollout(fleet, "wave", "-e", "app_version=2.0.0",
                           inventories=(fleet["work"] / "unhealthy.yaml",))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report["status"] == "halted"
    assert [w["status"] for w in report["waves"]] == ["ok", "failed"]
    assert list(report["rollback"]["hosts"]) == [second] and report["rollback"]["ok"]
    assert served(ssh, first) == ("200", "2.0.0")  # the good wave keeps the release
    assert served(ssh, second) == ("200", "1.0.0")


def test_rollback_auto_restores_every_wave_newest_first(fleet, ssh) -> None:
    rollout(fleet, "converge", "-e", "app_version=1.0.0")
    before = snapshot(ssh, fleet["names"])
    proc, report = rollout(fleet, "auto", "-e", "app_version=4.0.0",
                           inventories=(fleet["work"] / "unhealthy.yaml",))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report["status"] == "rolled-back"
    first, second = fleet["names"]
    assert list(report["rollback"]["hosts"]) == [second, first]
    assert snapshot(ssh, fleet["names"]) == before
    assert served(ssh, first) == ("200", "1.0.0") and served(ssh, second) == ("200", "1.0.0")
