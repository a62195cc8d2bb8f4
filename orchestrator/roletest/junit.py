"""A JUnit XML file per role: one test case per step of each scenario, plus pytest's own cases.

CI systems read JUnit; a failed idempotence step shows up there as a failed case whose message
names the tasks, and each verify test as its own case, straight from pytest's report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator.roletest.runner import FAILED, SKIPPED, RoleTestResult


def _steps_suite(result: RoleTestResult) -> ET.Element:
    scenario = result.scenario
    suite = ET.Element("testsuite", {
        "name": f"orc test {scenario.label}",
        "tests": str(len(result.steps)),
        "failures": str(sum(s.status == FAILED for s in result.steps)),
        "skipped": str(sum(s.status == SKIPPED for s in result.steps)),
        "errors": "0",
        "time": f"{result.seconds:.3f}",
    })
    for step in result.steps:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"orc.test.{scenario.role}.{scenario.name}",
            "name": step.step,
            "time": f"{step.seconds:.3f}",
        })
        if step.status == FAILED:
            failure = ET.SubElement(case, "failure", {"message": step.summary})
            failure.text = step.detail or step.summary
        elif step.status == SKIPPED:
            ET.SubElement(case, "skipped", {"message": step.summary})
        elif step.summary:
            ET.SubElement(case, "system-out").text = step.summary
    return suite


def _pytest_suites(xml_text: str | None) -> list[ET.Element]:
    if not xml_text:
        return []
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return []
    return [root] if root.tag == "testsuite" else list(root.iter("testsuite"))


def write_junit(results: list[RoleTestResult], path: Path) -> Path:
    """Write every scenario of one role (steps, then its verify tests) to `path`."""
    root = ET.Element("testsuites")
    for result in results:
        root.append(_steps_suite(result))
        root.extend(_pytest_suites(result.verify_junit))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
