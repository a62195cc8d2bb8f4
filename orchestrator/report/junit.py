"""JUnit XML for CI, orc's one writer of it: a rollout (`orc apply --junit`: a test suite per
wave, a test case per host of the wave) and role tests (`orc test --junit-dir`: a test case per
step of each scenario, then pytest's own suites of its verify tests).

A rollout's host that failed its tasks or its health checks is a `<failure>` with the reason; a
wave that never ran (after a halt) does not appear. Its shape is Ant's JUnit report at its
strictest (every suite has its properties, system-out and system-err, a hostname, package and
id), so both strict readers and lenient ones (Jenkins, GitLab, GitHub actions) accept it. Every
file is masked of secrets before it is written: no secret, nor a value rendered from one, in a CI
artefact.
"""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.events import Event, RunReported
from orchestrator.roletest.runner import FAILED as STEP_FAILED
from orchestrator.roletest.runner import SKIPPED as STEP_SKIPPED
from orchestrator.roletest.runner import RoleTestResult
from orchestrator.secrets import masking

if TYPE_CHECKING:
    from orchestrator.rollout.run import RolloutReport, WaveReport


def write(root: ET.Element, path: Path) -> Path:
    """Write the `<testsuites>` element `root` to `path` (its folder made), masked of secrets,
    indented, with an XML declaration."""
    tree = ET.ElementTree(root)
    for element in tree.iter():
        element.text = masking.hide(element.text)
        for name, value in element.attrib.items():
            element.set(name, masking.hide(value))
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path


class JUnitReport:
    """The listener `orc apply --junit PATH` attaches: the rollout's report, once it is whole."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunReported):
            write(rollout_xml(event.report), self.path)


# -- a rollout ------------------------------------------------------------------------------

def _case_failure(wave: WaveReport, host: str) -> str | None:
    if host not in wave.failed_hosts:
        return None
    if wave.apply and host in wave.apply.hosts:
        result = wave.apply.hosts[host]
        if result.failed:
            failed = [t for t in result.tasks if t.status == "failed"]
            return result.error or (f"{failed[0].name} ({failed[0].where}): {failed[0].error}"
                                    if failed else "failed")
    bad = [r for r in wave.health.get(host, []) if not r.ok]
    return f"health: {bad[-1].detail}" if bad else "failed"


def _wave_log(wave: WaveReport) -> str:
    """The wave's health results, one line each, as its suite's system-out."""
    lines = []
    for host in wave.hosts:
        for result in wave.health.get(host, []):
            lines.append(f"{host}: {result.check}: {'ok' if result.ok else 'failed'}"
                         f" {result.detail}".rstrip())
    return "\n".join(lines)


def rollout_xml(report: RolloutReport) -> ET.Element:
    """`<testsuites>` of a rollout: a suite per wave that ran, a case per host of it."""
    suites = ET.Element("testsuites", name=f"orc run {report.run_id}")
    total = failures = 0
    controller = socket.gethostname() or "localhost"
    for number, wave in enumerate(report.waves):
        duration = max(0.0, wave.finished - wave.started)
        suite = ET.SubElement(suites, "testsuite", {
            "name": f"{wave.play} / wave {wave.index + 1}",
            "package": wave.play or "play",
            "id": str(number),
            "hostname": controller,
            "tests": str(len(wave.hosts)),
            "failures": str(len(wave.failed_hosts)),
            "errors": "0", "skipped": "0",
            "time": f"{duration:.3f}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wave.started)),
        })
        properties = ET.SubElement(suite, "properties")
        for name, value in (("run", report.run_id), ("playbook", report.playbook),
                            ("wave.status", wave.status), ("wave.reason", wave.reason or "")):
            ET.SubElement(properties, "property", name=name, value=value)
        for host in wave.hosts:
            case = ET.SubElement(suite, "testcase", {
                "classname": f"{wave.play}.wave{wave.index + 1}", "name": host,
                "time": f"{duration:.3f}",
            })
            reason = _case_failure(wave, host)
            if reason is not None:
                failure = ET.SubElement(case, "failure", message=reason.splitlines()[0][:500],
                                        type="HostFailed")
                failure.text = reason
        ET.SubElement(suite, "system-out").text = _wave_log(wave)
        ET.SubElement(suite, "system-err").text = wave.reason or ""
        total += len(wave.hosts)
        failures += len(wave.failed_hosts)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", "0")
    suites.set("time", f"{max(0.0, (report.finished or time.time()) - report.started):.3f}")
    return suites


# -- role tests -----------------------------------------------------------------------------

def _steps_suite(result: RoleTestResult) -> ET.Element:
    scenario = result.scenario
    suite = ET.Element("testsuite", {
        "name": f"orc test {scenario.label}",
        "tests": str(len(result.steps)),
        "failures": str(sum(s.status == STEP_FAILED for s in result.steps)),
        "skipped": str(sum(s.status == STEP_SKIPPED for s in result.steps)),
        "errors": "0",
        "time": f"{result.seconds:.3f}",
    })
    for step in result.steps:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"orc.test.{scenario.role}.{scenario.name}",
            "name": step.step,
            "time": f"{step.seconds:.3f}",
        })
        if step.status == STEP_FAILED:
            failure = ET.SubElement(case, "failure", {"message": step.summary})
            failure.text = step.detail or step.summary
        elif step.status == STEP_SKIPPED:
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


def role_tests_xml(results: list[RoleTestResult]) -> ET.Element:
    """`<testsuites>` of one role: each scenario's steps, then its verify tests."""
    root = ET.Element("testsuites")
    for result in results:
        root.append(_steps_suite(result))
        root.extend(_pytest_suites(result.verify_junit))
    return root


def write_role_tests(results: list[RoleTestResult], path: Path) -> Path:
    """Write every scenario of one role (steps, then its verify tests) to `path`."""
    return write(role_tests_xml(results), path)
