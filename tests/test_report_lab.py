"""Reports of real runs on lab hosts: a plan piped to a file (grouped, never cut, with its JSON
and Markdown), `--check`, a rollout whose second wave fails (one summary, the failure printed
as it happens), and that run's HTML page looked at in a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from orchestrator.inventory import load_inventory
from orchestrator.lab import Lab
from orchestrator.load.playbook import load_playbook
from orchestrator.rollout.run import wave_table
from tests.support.orc import REPO, run_orc
from tests.support.png import colour_counts

pytestmark = pytest.mark.lab

BOOK = REPO / "tests" / "data" / "report" / "rollout.yaml"
LONG = "a-release-name-" + "x" * 150  # a line far wider than 80 columns
RED, BLUE = (211, 47, 47), (25, 118, 210)  # failed, apply: the page's colours
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _names(inventory: Path) -> list[str]:
    return load_inventory([str(inventory)]).select("all")


def _wave_sizes(hosts: int, serial: list[int]) -> list[int]:
    """Ansible's batches of `serial` over `hosts` hosts: the last size repeats (the session's
    lab may have grown past three hosts by the time this module runs)."""
    sizes: list[int] = []
    while hosts > 0:
        size = min(serial[min(len(sizes), len(serial) - 1)], hosts)
        sizes.append(size)
        hosts -= size
    return sizes


def test_a_plan_piped_to_a_file_is_grouped_whole_and_machine_readable(
        lab: Lab, lab_inventory: Path, tmp_path: Path) -> None:
    names = _names(lab_inventory)
    plan_json, plan_md = tmp_path / "plan.json", tmp_path / "plan.md"
    done = run_orc("plan", str(BOOK), "-i", str(lab_inventory), "-f", "1", "-e",
                   f"release={LONG}", "--json", str(plan_json), "--markdown", str(plan_md))
    assert done.returncode == 2, done.stdout + done.stderr
    text = done.stdout
    assert f"+release {LONG} on ‹host›\n" in text  # whole, once for every host
    assert text.count(f"+release {LONG}") == 1
    assert f"({len(names)} hosts): 3 tasks would change" in text or \
        f"({len(names)} hosts): 2 tasks would change" in text
    assert re.search(rf"plan: {len(names)} hosts: {len(names)} would change \d tasks", text)
    document = json.loads(plan_json.read_text())
    assert document["schema"] == "orc-plan/1"
    play = document["plays"][0]
    assert sorted(play["hosts"]) == sorted(names)
    assert [len(w["hosts"]) for w in play["waves"]] == _wave_sizes(len(names), [1, 2])
    release = next(t for t in play["hosts"][names[0]]["tasks"] if t["name"] == "release file")
    assert release["status"] == "changed" and LONG in release["diff"]
    markdown = plan_md.read_text()
    assert "| wave | hosts |" in markdown and "<details><summary>diff on" in markdown


def test_apply_check_is_a_plan_and_records_no_run(lab: Lab, lab_inventory: Path,
                                                  tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = run_orc("apply", str(BOOK), "-i", str(lab_inventory), "--check", "--diff",
                   "--state-dir", str(state))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "+release 1 on ‹host›" in done.stdout
    assert json.loads(run_orc("runs", "--json", "--state-dir", str(state)).stdout) == []


@pytest.fixture
def failed_run(lab: Lab, lab_inventory: Path, ssh, tmp_path: Path):
    """A rollout whose second wave fails: one host fails a task, the other its health check."""
    book, inventory = load_playbook(BOOK), load_inventory([str(lab_inventory)])
    waves = wave_table(book, inventory)[0][1]
    task_fails, unhealthy = waves[1].hosts
    ssh(task_fails, "touch /etc/orc-report-task-fail")
    ssh(unhealthy, "touch /etc/orc-report-fail")
    try:
        state = tmp_path / "state"
        done = run_orc("apply", str(BOOK), "-i", str(lab_inventory), "--yes", "--ci",
                       "--state-dir", str(state))
        yield {"done": done, "state": state, "waves": waves, "task_fails": task_fails,
               "unhealthy": unhealthy}
    finally:
        for host in (task_fails, unhealthy):
            ssh(host, "rm -f /etc/orc-report-task-fail /etc/orc-report-fail")


def test_a_rollout_ends_with_one_summary_and_says_a_failure_when_it_happens(failed_run) -> None:
    done = failed_run["done"]
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    failure = next(i for i, line in enumerate(lines)
                   if line.strip().startswith(f"FAILED {failed_run['task_fails']}: "
                                              "no task fail marker"))
    wave_done = next(i for i, line in enumerate(lines) if line.strip().startswith("wave 2:"))
    assert failure < wave_done  # printed as it happened, before the wave ended
    assert done.stdout.count("┏") == 1  # one table for the whole run
    assert len(re.findall(r"^run \S+: halted", done.stdout, re.M)) == 1
    assert "failed: `test ! -e /etc/orc-report-fail`" in done.stdout  # the health column


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is missing: `make setup` installs it (apt-get install chromium)")
    return found


def test_the_runs_html_page_shows_its_timeline_in_a_browser(failed_run, tmp_path: Path) -> None:
    state = failed_run["state"]
    run_id = json.loads(run_orc("runs", "--json", "--state-dir", str(state)).stdout)[0]["id"]
    page = tmp_path / "run.html"
    made = run_orc("show", run_id, "--html", str(page), "--state-dir", str(state))
    assert made.returncode == 0, made.stderr
    assert not re.search(r"https?://", page.read_text())  # nothing to fetch
    chromium = _chromium()
    profile = tempfile.mkdtemp(prefix="orc-chromium-")
    try:
        dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                              "--dump-dom", page.as_uri()],
                             capture_output=True, text=True, timeout=120).stdout
        shot = tmp_path / "run.png"
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                        "--window-size=1280,900", f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, text=True, timeout=120, check=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    hosts = [h for w in failed_run["waves"][:2] for h in w.hosts]  # the run halts at wave 2
    rows = re.findall(r'<g class="host-row" data-host="([^"]+)" data-status="([^"]+)"', dom)
    assert sorted(h for h, _ in rows) == sorted(hosts)
    status = dict(rows)
    assert status[failed_run["task_fails"]] == "failed"
    assert status[failed_run["unhealthy"]] == "failed"
    assert re.search(r'<g class="wave failed" data-wave="2"', dom)
    assert not re.search(r'<g class="wave failed" data-wave="1"', dom)
    assert dom.count('class="bar apply') == len(hosts)
    assert dom.count('class="bar apply failed"') == 1
    assert 'class="bar health failed"' in dom and 'class="bar bake"' in dom
    colours = colour_counts(shot)
    assert colours[RED] > 200 and colours[BLUE] > 200  # failed bars and badges; apply bars
    keep = os.environ.get("ORC_REPORT_SCREENSHOT")
    if keep:  # where a person wants to look at it
        shutil.copy(shot, keep)
