"""`orc test --junit-dir`: a role's scenarios as JUnit through the one JUnit writer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator.report.junit import write_role_tests
from orchestrator.roletest import FAILED, PASSED, SKIPPED, RoleTestResult, Scenario, StepResult

PYTEST_XML = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
 errors="0" failures="0" skipped="0" tests="1" time="0.5"><testcase classname="test_app"
 name="test_listens" time="0.5"/></testsuite></testsuites>"""


def test_steps_then_the_verify_tests_of_each_scenario(tmp_path: Path) -> None:
    scenario = Scenario("app", "default", tmp_path, tmp_path, (), ())
    result = RoleTestResult(scenario, "e1", [
        StepResult("converge", PASSED, 3.0, "4 changed"),
        StepResult("idempotence", FAILED, 2.0, "1 task changed", "install app (tasks:3)"),
        StepResult("verify", SKIPPED, 0.0, "no tests"),
    ], verify_junit=PYTEST_XML)
    path = write_role_tests([result], tmp_path / "junit" / "app.xml")
    root = ET.parse(path).getroot()
    steps, verify = root.findall("testsuite")
    assert (steps.get("tests"), steps.get("failures"), steps.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in steps.findall("testcase")}
    assert cases["idempotence"].find("failure").text == "install app (tasks:3)"
    assert cases["verify"].find("skipped").get("message") == "no tests"
    assert cases["converge"].find("system-out").text == "4 changed"
    assert verify.find("testcase").get("name") == "test_listens"
    assert path.read_text().startswith("<?xml version='1.0' encoding='utf-8'?>")

