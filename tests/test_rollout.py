"""Staged rollouts on six real lab hosts: waves in order, a bad release stopped at the canary,
pause and resume across processes, abort, the lock, an unreachable host, CI reports."""

from __future__ import annotations

import json
import os
import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchestrator import lab as lab_api
from orchestrator.lab import Lab, machine
from tests.support.orc import TEST_LAB, run_orc, setup_step
from tests.support.reports import SCHEMA as JUNIT_SCHEMA

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
HOSTS = 6
ROLLOUT = """\
- name: rollout
  hosts: all
  {serial}
  max_fail_percentage: 0
  health:
    - http: "http://{{{{ ansible_host }}}}/healthz"
      retries: 3
      interval: 1s
    - command: systemctl is-active app nginx
  bake: 1s
  vars_files:
    - {secrets}
  roles: [common, app, nginx]
"""


@pytest.fixture(scope="module")
def fleet(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory,
          example_estate_env):
    """Six converged hosts and a playbook that rolls the example estate out in waves."""
    grown = lab_api.up(max(HOSTS, len(lab_api.load(TEST_LAB).hosts)), TEST_LAB, lab_inventory)
    names = [h.name for h in grown.hosts[:HOSTS]]
    work = tmp_path_factory.mktemp("rollout")
    secrets = REPO / "secrets" / "lab.yaml"
    (work / "converge.yaml").write_text(ROLLOUT.format(serial="serial: 0", secrets=secrets))
    (work / "rollout.yaml").write_text(
        ROLLOUT.format(serial='serial: [1, "50%", "100%"]', secrets=secrets))
    base = ["-i", str(lab_inventory), "--yes", "--ci", "--limit", ",".join(names),
            "--state-dir", str(work / ".orc")]
    setup_step(run_orc("apply", str(work / "converge.yaml"), *base, "-e", "app_version=1.0.0"),
               "converging release 1.0.0")
    return {"names": names, "work": work, "base": base, "lab": grown}


def rollout(fleet, *args: str, report: str = "report.json"):
    path = fleet["work"] / report
    proc = run_orc("apply", str(fleet["work"] / "rollout.yaml"), *fleet["base"],
                   "--json", str(path), *args)
    data = json.loads(path.read_text()) if path.exists() else None
    path.unlink(missing_ok=True)
    return proc, data


def versions(fleet, ssh) -> dict[str, str]:
    """What each host really has, read on the host (not from orc's report)."""
    return {h: json.loads(ssh(h, "cat /etc/app/config.json").stdout)["version"]
            for h in fleet["names"]}


def test_a_good_release_goes_through_every_wave_in_order(fleet, ssh) -> None:
    junit = fleet["work"] / "junit-good.xml"
    proc, report = rollout(fleet, "-e", "app_version=2.0.0", "--junit", str(junit))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["status"] == "succeeded"
    waves = report["waves"]
    assert [len(w["hosts"]) for w in waves] == [1, 3, 2]
    JUNIT_SCHEMA.validate(str(junit))
    suites = ET.parse(junit).getroot()
    assert [len(s.findall("testcase")) for s in suites] == [1, 3, 2]
    assert suites.get("failures") == "0" and not suites.findall(".//failure")
    assert sorted(h for w in waves for h in w["hosts"]) == sorted(fleet["names"])
    for before, after in zip(waves, waves[1:]):
        assert after["started"] >= before["finished"]  # a wave starts after the last one ended
    assert all(w["status"] == "ok" and w["failed_hosts"] == [] for w in waves)
    for wave in waves:  # both checks ran on every host, again during the bake, all passing
        for host in wave["hosts"]:
            results = wave["health"][host]
            assert len({r["check"] for r in results}) == 2 and len(results) >= 4
            assert all(r["ok"] for r in results)
    assert set(versions(fleet, ssh).values()) == {"2.0.0"}


def test_a_bad_release_stops_at_the_canary_and_leaves_the_rest_untouched(fleet, ssh) -> None:
    junit = fleet["work"] / "junit.xml"
    proc, report = rollout(fleet, "-e", "app_version=3.0.0", "-e", "app_healthy=false",
                           "--junit", str(junit))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report["status"] == "halted"
    [wave] = report["waves"]
    canary = wave["hosts"][0]
    assert wave["status"] == "failed" and wave["failed_hosts"] == [canary]
    assert "status 503" in wave["reason"]
    on_hosts = versions(fleet, ssh)
    assert on_hosts.pop(canary) == "3.0.0"
    assert set(on_hosts.values()) == {"2.0.0"}  # five hosts never touched
    JUNIT_SCHEMA.validate(str(junit))  # what CI systems read
    suites = ET.parse(junit).getroot()
    assert suites.tag == "testsuites" and suites.get("failures") == "1"
    [suite] = suites.findall("testsuite")
    [case] = suite.findall("testcase")
    assert case.get("name") == canary
    assert "503" in case.find("failure").get("message")
    # the same rollout with a good release heals the canary
    proc, report = rollout(fleet, "-e", "app_version=2.0.0")
    assert proc.returncode == 0 and set(versions(fleet, ssh).values()) == {"2.0.0"}


def test_pause_resume_in_another_process_and_the_lock_meanwhile(fleet, ssh) -> None:
    proc, report = rollout(fleet, "-e", "app_version=4.0.0", "--pause-after-wave", "1")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert report["status"] == "paused" and len(report["waves"]) == 1
    run_id = report["run_id"]
    assert list(versions(fleet, ssh).values()).count("4.0.0") == 1

    other, _ = rollout(fleet, "-e", "app_version=5.0.0")
    assert other.returncode == 1
    assert f"run {run_id} (paused" in other.stderr and len(other.stderr.strip().splitlines()) == 1

    out = fleet["work"] / "resumed.json"
    resumed = run_orc("resume", run_id, "--ci", "--state-dir", str(fleet["work"] / ".orc"),
                      "--json", str(out))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    data = json.loads(out.read_text())
    assert data["status"] == "succeeded" and len(data["waves"]) == 3
    assert set(versions(fleet, ssh).values()) == {"4.0.0"}
    runs = json.loads(run_orc("runs", "--json", "--state-dir",
                              str(fleet["work"] / ".orc")).stdout)
    assert {r["id"]: r["status"] for r in runs}[run_id] == "succeeded"


def test_abort_ends_a_paused_run_and_frees_its_hosts(fleet, ssh) -> None:
    proc, report = rollout(fleet, "-e", "app_version=5.0.0", "--pause-after-wave", "1")
    assert proc.returncode == 4
    state = ["--state-dir", str(fleet["work"] / ".orc")]
    aborted = run_orc("abort", report["run_id"], *state)
    assert aborted.returncode == 0 and aborted.stdout.strip().endswith("aborted")
    again = run_orc("resume", report["run_id"], "--ci", *state)
    assert again.returncode == 1 and "is aborted" in again.stderr
    proc, report = rollout(fleet, "-e", "app_version=5.0.0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(versions(fleet, ssh).values()) == {"5.0.0"}


def test_a_host_unreachable_mid_run_fails_its_wave(fleet, ssh) -> None:
    proc, report = rollout(fleet, "-e", "app_version=6.0.0", "--pause-after-wave", "1")
    assert proc.returncode == 4
    paused = report["run_id"]
    canary = report["waves"][0]["hosts"][0]
    lab = lab_api.load(TEST_LAB)
    victim = next(h for h in lab.hosts if h.name in fleet["names"] and h.name != canary)
    os.kill(victim.leader, signal.SIGKILL)  # power the host off
    deadline = time.monotonic() + 10
    while machine.is_running(victim) and time.monotonic() < deadline:
        time.sleep(0.1)
    out = fleet["work"] / "unreachable.json"
    resumed = run_orc("resume", paused, "--ci", "--state-dir", str(fleet["work"] / ".orc"),
                      "--json", str(out))
    data = json.loads(out.read_text())
    lab_api.up(len(lab.hosts), TEST_LAB, None)  # bring the host back for the tests after this
    assert resumed.returncode == 1
    assert data["status"] == "halted"
    failed_wave = data["waves"][-1]
    assert victim.name in failed_wave["hosts"] and failed_wave["failed_hosts"] == [victim.name]
    assert failed_wave["apply"]["hosts"][victim.name]["unreachable"] is True
