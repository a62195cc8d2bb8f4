"""The rollout's JUnit report validates against the JUnit XML schema CI systems read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchestrator import junit
from orchestrator.engine.results import FAILED, OK, HostResult, PlayResult, TaskResult
from orchestrator.rollout.health import CheckResult
from orchestrator.rollout.run import RolloutReport, WaveReport
from tests.support.rollouts import JUNIT_SCHEMA as SCHEMA



def halted_rollout() -> RolloutReport:
    """A canary wave that passed, then a wave with a failed task and a failed health check."""
    report = RolloutReport("20261122-0001", "site.yaml", status="halted", started=1_000.0,
                           finished=1_030.0)
    canary = WaveReport("web & <app>", 0, 0, ["web1"], status="ok", started=1_000.0,
                        finished=1_010.0)
    canary.apply = PlayResult("web", {"web1": HostResult("web1", [TaskResult("t", "a:1", OK)])})
    canary.health = {"web1": [CheckResult("http://web1/healthz", "web1", True, "200", 1, 1_009)]}
    wave = WaveReport("web & <app>", 0, 1, ["web2", "web3", "web4"], status="failed",
                      started=1_010.0, finished=1_030.0, failed_hosts=["web2", "web3"],
                      reason="2 of 3 hosts failed")
    wave.apply = PlayResult("web", {
        "web2": HostResult("web2", [TaskResult("restart app", "roles/app/tasks/main.yaml:9",
                                               FAILED, error="unit app.service not found")]),
        "web3": HostResult("web3", [TaskResult("t", "a:1", OK)]),
        "web4": HostResult("web4", [TaskResult("t", "a:1", OK)]),
    })
    wave.health = {"web3": [CheckResult("http://web3/healthz", "web3", False,
                                        "status 503", 3, 1_029)]}
    report.waves = [canary, wave]
    return report


def test_a_halted_rollout_validates_and_names_each_failure(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    junit.write(halted_rollout(), path)
    SCHEMA.validate(str(path))
    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("failures")) == ("4", "2")
    suites = root.findall("testsuite")
    assert [s.get("id") for s in suites] == ["0", "1"]
    failures = {c.get("name"): c.find("failure") for c in suites[1].findall("testcase")}
    assert failures["web4"] is None
    assert "unit app.service not found" in failures["web2"].get("message")
    assert "restart app (roles/app/tasks/main.yaml:9)" in failures["web2"].text
    assert failures["web3"].get("message") == "health: status 503"
    assert "web3: http://web3/healthz: failed status 503" in suites[1].find("system-out").text
    assert suites[1].find("system-err").text == "2 of 3 hosts failed"


def test_a_rollout_that_never_ran_a_wave_validates(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    junit.write(RolloutReport("20261122-0002", "site.yaml", status="failed"), path)
    SCHEMA.validate(str(path))


@pytest.mark.parametrize("breakage", ["hostname", "timestamp", "system-err", "classname"])
def test_the_schema_rejects_reports_ci_systems_could_misread(tmp_path: Path,
                                                            breakage: str) -> None:
    tree = junit.to_xml(halted_rollout())
    suite = tree.getroot().find("testsuite")
    if breakage in ("hostname", "timestamp"):
        del suite.attrib[breakage]
    elif breakage == "classname":
        del suite.find("testcase").attrib["classname"]
    else:
        suite.remove(suite.find(breakage))
    assert not SCHEMA.is_valid(tree)
