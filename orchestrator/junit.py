"""A rollout as JUnit XML for CI: one test suite per wave, one test case per host of the wave.

A host that failed its tasks or its health checks is a `<failure>` with the reason; a wave that
never ran (after a halt) does not appear. The shape is the common JUnit schema CI systems read
(testsuites > testsuite > testcase, counts and times as attributes).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator.rollout import RolloutReport, WaveReport


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


def to_xml(report: RolloutReport) -> ET.ElementTree:
    suites = ET.Element("testsuites", name=f"orc run {report.run_id}")
    total = failures = 0
    for wave in report.waves:
        duration = max(0.0, wave.finished - wave.started)
        suite = ET.SubElement(suites, "testsuite", {
            "name": f"{wave.play} / wave {wave.index + 1}",
            "tests": str(len(wave.hosts)),
            "failures": str(len(wave.failed_hosts)),
            "errors": "0", "skipped": "0",
            "time": f"{duration:.3f}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wave.started)),
        })
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
        total += len(wave.hosts)
        failures += len(wave.failed_hosts)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    return ET.ElementTree(suites)


def write(report: RolloutReport, path: Path) -> None:
    tree = to_xml(report)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
