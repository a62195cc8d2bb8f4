"""The rollout's JUnit report validates against the JUnit XML schema CI systems read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchestrator.report import junit
from orchestrator.rollout.run import RolloutReport
from tests.support.reports import SCHEMA, halted_rollout


def test_a_halted_rollout_validates_and_names_each_failure(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    junit.write(junit.rollout_xml(halted_rollout()), path)
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
    junit.write(junit.rollout_xml(RolloutReport("20261122-0002", "site.yaml", status="failed")),
                path)
    SCHEMA.validate(str(path))


@pytest.mark.parametrize("breakage", ["hostname", "timestamp", "system-err", "classname"])
def test_the_schema_rejects_reports_ci_systems_could_misread(tmp_path: Path,
                                                            breakage: str) -> None:
    root = junit.rollout_xml(halted_rollout())
    suite = root.find("testsuite")
    if breakage in ("hostname", "timestamp"):
        del suite.attrib[breakage]
    elif breakage == "classname":
        del suite.find("testcase").attrib["classname"]
    else:
        suite.remove(suite.find(breakage))
    assert not SCHEMA.is_valid(root)
