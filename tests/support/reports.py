"""What the JUnit tests share: the JUnit XML schema CI systems read, and a halted rollout's
report to render."""

from __future__ import annotations

from pathlib import Path

import xmlschema

from orchestrator.engine.results import FAILED, OK, HostResult, PlayResult, TaskResult
from orchestrator.rollout.health import CheckResult
from orchestrator.rollout.run import RolloutReport, WaveReport

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent.parent / "data" / "junit" / "junit.xsd")


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


def rolled_back_rollout() -> RolloutReport:
    """`halted_rollout` whose failed wave was rolled back (`rollback: wave`): the report
    tests/data/report/rollout.json holds as `orc apply --json` wrote it before its events
    were typed."""
    report = halted_rollout()
    report.rollback = {"mode": "wave", "hosts": {"web2": {"ok": True}}, "health": {}, "ok": True}
    report.waves[1].rollback = report.rollback
    report.waves[1].health_before = {"web2": True, "web3": False}
    return report


GOLDEN_JSON = Path(__file__).parent.parent / "data" / "report" / "rollout.json"
