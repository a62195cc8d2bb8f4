"""The report listeners fed typed events, no host: what each writes or prints, and when."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchestrator.events import (
    Baking,
    HealthChecking,
    HostDone,
    Message,
    RolledBack,
    RunDone,
    RunReported,
    TaskFailed,
    WaveDone,
    WaveStarted,
    fan_out,
)
from orchestrator.report.console import RunSummary, make_console
from orchestrator.report.html import HtmlReport
from orchestrator.report.json import JsonReport
from orchestrator.report.junit import JUnitReport
from orchestrator.report.live import LogLines
from orchestrator.rollout.run import RolloutReport
from orchestrator.rollout.store import RunStore
from orchestrator.secrets import masking
from tests.support.reports import GOLDEN_JSON, SCHEMA, halted_rollout, rolled_back_rollout

BEFORE_THE_END = [WaveStarted("web", 0, ("web1",)), HostDone("web1", "ok"),
                  WaveDone(0, "ok"), RunDone("20261122-0001", "halted")]


def test_the_json_report_is_byte_for_byte_what_orc_apply_wrote(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    JsonReport(path)(RunReported(rolled_back_rollout()))
    assert path.read_bytes() == GOLDEN_JSON.read_bytes()


@pytest.mark.parametrize("listener", [JsonReport, JUnitReport])
def test_a_file_report_is_written_once_the_report_is_whole(tmp_path: Path, listener) -> None:
    path = tmp_path / "report"
    heard = listener(path)
    for event in BEFORE_THE_END:
        heard(event)
    assert not path.exists()
    heard(RunReported(halted_rollout()))
    assert path.exists()


def test_the_json_report_masks_a_secret(tmp_path: Path) -> None:
    secret = "s3cr3t-token-e1-json"
    masking.remember_plaintexts([secret])
    report = halted_rollout()
    report.waves[1].reason = f"2 of 3 hosts failed: {secret}"
    path = tmp_path / "report.json"
    JsonReport(path)(RunReported(report))
    assert secret not in path.read_text() and masking.MASK in path.read_text()


def test_the_junit_report_validates_and_masks_a_secret(tmp_path: Path) -> None:
    secret = "s3cr3t-token-e1-junit"
    masking.remember_plaintexts([secret])
    report = halted_rollout()
    report.waves[1].reason = f"2 of 3 hosts failed: {secret}"
    path = tmp_path / "out" / "junit.xml"
    JUnitReport(path)(RunReported(report))
    SCHEMA.validate(str(path))
    assert secret not in path.read_text()
    err = ET.parse(path).getroot().findall("testsuite")[1].find("system-err").text
    assert err == f"2 of 3 hosts failed: {masking.MASK}"


def test_the_summary_prints_the_table_the_line_and_how_to_resume() -> None:
    out = io.StringIO()
    summary = RunSummary(make_console(file=out))
    for event in BEFORE_THE_END:
        summary(event)
    assert out.getvalue() == ""
    report = halted_rollout()
    report.status = "paused"
    summary(RunReported(report))
    text = out.getvalue()
    assert "run 20261122-0001: site.yaml" in text  # the table's title
    assert "paused · 2 waves, 4 hosts" in text
    assert "continue with `orc resume 20261122-0001`" in text


def test_the_html_page_is_the_run_as_the_index_holds_it(tmp_path: Path) -> None:
    store = RunStore(tmp_path / ".orc")
    run = store.start("site.yaml", ["inventory.yaml"], {}, ["web1", "web2", "web3", "web4"])
    store.set_status(run.id, "halted")
    report = halted_rollout()
    report.run_id = run.id
    path = tmp_path / "run.html"
    HtmlReport(path, store)(HostDone("web1", "ok"))
    assert not path.exists()
    HtmlReport(path, store)(RunReported(report))
    page = path.read_text()
    assert f"orc run {run.id}" in page and "halted" in page
    assert "unit app.service not found" in page


def test_ci_lines_follow_a_wave_through_health_bake_and_rollback() -> None:
    lines: list[str] = []
    log = LogLines(echo=lines.append)
    log(HostDone("web1", "failed", "before any wave"))  # no wave yet: nothing to say
    assert lines == []
    for event in [WaveStarted("web", 1, ("web1", "web2")),
                  Message("web1", "say", "hello"),
                  HostDone("web1", "changed"),
                  HostDone("web2", "unreachable", "timed out"),
                  HealthChecking(1, ("web1",)),
                  Baking(1, 29.6), Baking(1, 20.0),
                  WaveDone(1, "failed", "1/2 host(s) failed"),
                  RolledBack("wave", ("web1", "web2"), True),
                  TaskFailed("web1", "late", "", "after the wave")]:
        log(event)
    assert lines[:7] == [
        "web: wave 2 (2 hosts): web[1:2]",
        "  web1 | say: hello",
        "  UNREACHABLE web2: timed out",
        "  applied: 2/2 done, 1 unreachable",
        "  health checks on 1 host",
        "  baking 30s",
        lines[6],
    ]
    assert lines[6].startswith("  wave 2: failed (1/2 host(s) failed) · ")
    assert lines[7:] == ["  rollback (wave) of web[1:2]: ok", "  FAILED web1: late: after the wave"]


def test_fan_out_calls_each_listener_in_order_and_skips_none() -> None:
    heard: list[tuple[str, str]] = []
    listener = fan_out([lambda e: heard.append(("a", e.kind)), None,
                        lambda e: heard.append(("b", e.kind))])
    listener(RunDone("r", "succeeded"))
    assert heard == [("a", "run"), ("b", "run")]
    assert fan_out([None, print]) is print


def test_events_are_values() -> None:
    assert WaveStarted("web", 0, ("a",)) == WaveStarted("web", 0, ("a",))
    with pytest.raises(AttributeError):
        WaveStarted("web", 0, ("a",)).wave = 1  # type: ignore[misc]
    report = RolloutReport("r", "site.yaml")
    assert RunReported(report).report is report
