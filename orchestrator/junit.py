"""A rollout as JUnit XML for CI: one test suite per wave, one test case per host of the wave.

A host that failed its tasks or its health checks is a `<failure>` with the reason; a wave that
never ran (after a halt) does not appear. The shape is Ant's JUnit report at its strictest (every
suite has its properties, system-out and system-err, a hostname, package and id), so both strict
readers and lenient ones (Jenkins, GitLab, GitHub actions) accept it.
"""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator.rollout.run import RolloutReport, WaveReport
from orchestrator.secrets import masking


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


def to_xml(report: RolloutReport) -> ET.ElementTree:
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
    return ET.ElementTree(suites)


def write(report: RolloutReport, path: Path) -> None:
    tree = to_xml(report)
    for element in tree.iter():  # no secret, nor a value rendered from one, in a CI artefact
        element.text = masking.hide(element.text)
        for name, value in element.attrib.items():
            element.set(name, masking.hide(value))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
