"""Reports for people and CI, from result data built here: plans grouped for a fleet and never
cut in a pipe, Ansible's task counts, the rollout summary, the plan's JSON and Markdown, the
CI log lines, and the HTML page's markup."""

from __future__ import annotations

import io
import json
import re
import time

from orchestrator.engine.results import HostResult, PlayResult, RunResult, TaskResult
from orchestrator.events import (
    HostDone,
    OperationDone,
    RunDone,
    TaskFailed,
    WaveDone,
    WaveStarted,
)
from orchestrator.report.console import (
    make_console,
    plan_summary,
    print_plan,
    recap,
    rollout_line,
    rollout_table,
)
from orchestrator.report.hosts import fold_hosts
from orchestrator.report.html import to_html
from orchestrator.report.live import LiveRollout, LogLines
from orchestrator.report.plan import SCHEMA, plan_document, to_markdown
from orchestrator.rollout.health import CheckResult
from orchestrator.rollout.run import RolloutReport, WaveReport
from orchestrator.rollout.store import Run
from orchestrator.rollout.waves import Wave

LONG = "x" * 300 + " end-of-a-long-line"


def _diff(host: str, body: str) -> str:
    return (f"--- {host}:/etc/app.conf\n+++ {host}:/etc/app.conf\n@@ -1 +1 @@\n-old\n"
            f"+{body}\n")


def _plan(hosts: dict[str, str]) -> RunResult:
    """A plan where each host's config line becomes `hosts[name]`."""
    play = PlayResult("site")
    for name, body in hosts.items():
        play.hosts[name] = HostResult(name, [
            TaskResult("config", "roles/app/tasks/main.yaml:3", "changed",
                       diff=_diff(name, body)),
            TaskResult("packages", "roles/app/tasks/main.yaml:9", "ok"),
        ])
    return RunResult("site.yaml", True, [play])


def _printed(run: RunResult, **kwargs) -> str:
    out = io.StringIO()
    print_plan(run, make_console(file=out), **kwargs)
    return out.getvalue()


def test_hosts_fold_as_ansible_inventory_ranges() -> None:
    assert fold_hosts([f"web{n:02d}" for n in range(1, 41)]) == "web[01:40]"
    assert fold_hosts(["web01", "web02", "web03", "web05", "db"]) == "web[01:03], web05, db"
    assert fold_hosts(["node08", "node09", "node10"]) == "node[08:10]"
    assert fold_hosts(["www1.example.com", "www2.example.com"]) == "www[1:2].example.com"


def test_a_plan_in_a_pipe_is_never_wrapped_or_cut() -> None:
    text = _printed(_plan({"web01": LONG}))
    assert f"+{LONG}\n" in text  # the whole line, on one line
    assert "…" not in text


def test_identical_changes_share_one_diff_and_the_summary_counts_hosts() -> None:
    hosts = {f"web{n:02d}": "same" for n in range(1, 41)}
    text = _printed(_plan(hosts))
    assert text.count("+same") == 1
    assert "web[01:40] (40 hosts): 1 task would change" in text
    assert re.search(r"│ site\s*│ web\[01:40\]\s*│ changed", text)  # one row in the table
    assert "plan: 40 hosts: 40 would change 1 task" in text


def test_diffs_that_differ_only_by_the_hosts_name_are_one_diff() -> None:
    text = _printed(_plan({f"web{n}": f"name=web{n}" for n in range(1, 4)}))
    assert text.count("+name=") == 1
    assert "+name=‹host›" in text
    assert "on web[1:3] (‹host› is each host's name)" in text


def test_different_changes_are_shown_per_set_of_hosts() -> None:
    text = _printed(_plan({"web1": "a", "web2": "a", "web3": "b"}))
    assert "on web[1:2]:" in text and "on web3:" in text
    assert text.count("+a\n") == 1 and text.count("+b\n") == 1


def test_per_host_expands_every_host() -> None:
    text = _printed(_plan({f"web{n}": "same" for n in range(1, 4)}), per_host=True)
    assert text.count("+same") == 3
    assert "--- web2:/etc/app.conf" in text


def test_summary_line_names_each_way_hosts_change() -> None:
    run = _plan({"web1": "a", "web2": "a"})
    run.plays[0].hosts["db1"] = HostResult("db1", [TaskResult("x", "t.yaml:1", "ok")])
    run.plays[0].hosts["db2"] = HostResult("db2", error="unreachable: timed out",
                                           unreachable=True)
    assert plan_summary(run) == "4 hosts: 2 would change 1 task, 1 unchanged, 1 unreachable"


def test_a_looped_task_counts_once_as_ansible_counts_it() -> None:
    host = HostResult("web1", [
        TaskResult("dirs", "t.yaml:1", "changed", item="a"),
        TaskResult("dirs", "t.yaml:1", "ok", item="b"),
        TaskResult("dirs", "t.yaml:1", "changed", item="c"),
        TaskResult("motd", "t.yaml:5", "ok"),
        TaskResult("skipped", "t.yaml:9", "skipped"),
    ])
    counts = recap(host)
    assert (counts["ok"], counts["changed"], counts["failed"], counts["skipped"]) == (2, 1, 0, 1)


def _rollout() -> RolloutReport:
    start = time.time() - 30
    first = WaveReport("site", 0, 0, ["web1"], "ok", start, start + 2, start + 6)
    first.apply = PlayResult("site", {"web1": HostResult("web1", [
        TaskResult("config", "t.yaml:1", "changed")])})
    first.health = {"web1": [CheckResult("http", "web1", True, "GET /: 200", 1, start + 3),
                             CheckResult("http", "web1", True, "GET /: 200", 1, start + 5)]}
    second = WaveReport("site", 0, 1, ["web2", "web3", "web4"], "failed", start + 7,
                        start + 9, start + 10, ["web4"],
                        "1/3 host(s) failed; web4: GET /: status 503")
    second.apply = PlayResult("site", {
        name: HostResult(name, [TaskResult("config", "t.yaml:1", "changed")])
        for name in second.hosts})
    second.apply.hosts["web4"].error = "health: GET /: status 503"  # as the rollout says it
    second.health = {name: [CheckResult("http", name, name != "web4",
                                        "GET /: 200" if name != "web4" else "GET /: status 503",
                                        1, start + 9.5)] for name in second.hosts}
    report = RolloutReport("20260101-000000-abcdef", "site.yaml", "halted", start, start + 10)
    report.waves = [first, second]
    return report


def test_one_rollout_summary_groups_hosts_that_fared_alike() -> None:
    out = io.StringIO()
    console = make_console(file=out)
    report = _rollout()
    console.print(rollout_table(report))
    console.print(rollout_line(report))
    text = out.getvalue()
    assert "web[2:3]" in text  # two hosts with the same row share it
    assert "failed: GET /: status 503" in text and "health: GET /: status 503" in text
    assert text.count("run 20260101-000000-abcdef") == 2  # the table's title and one line
    assert "halted · 2 waves, 4 hosts, 3 changed, 1 failed" in text


def test_ci_lines_print_a_failure_when_it_happens_and_no_run_status() -> None:
    lines: list[str] = []
    log = LogLines(echo=lines.append)
    log(WaveStarted("site", 0, ("web1", "web2")))
    log(TaskFailed("web2", "config", "t.yaml:1", "permission denied"))
    assert lines[-1] == "  FAILED web2: config (t.yaml:1): permission denied"
    log(HostDone("web2", "failed"))
    log(HostDone("web1", "changed"))
    log(WaveDone(0, "failed", "1/2 host(s) failed"))
    log(RunDone("r1", "halted"))
    assert sum("web2" in line for line in lines) == 1  # the failure once, as it happened
    assert not any(line.startswith("run ") for line in lines)


def test_live_view_counts_hosts_and_names_the_busiest_task() -> None:
    console = make_console(file=io.StringIO())
    view = LiveRollout("site.yaml", console, {"site": 3})
    view(WaveStarted("site", 1, tuple(f"web{n}" for n in range(10))))
    for n in range(6):
        view(OperationDone(f"web{n}", "install packages", True))
    view(OperationDone("web9", "config", True))
    view(HostDone("web9", "unreachable", "timed out"))
    view(TaskFailed("web8", "config", "t.yaml:1", "permission denied"))
    out = io.StringIO()
    make_console(file=out).print(view.render())
    text = out.getvalue()
    assert "wave 2/3" in text and "1/10 done, 1 failed, 1 unreachable" in text
    assert "most hosts at: install packages (6)" in text


def test_plan_json_is_the_documented_schema() -> None:
    run = _plan({"web1": "a", "web2": "a"})
    document = json.loads(json.dumps(plan_document(run, [[Wave(0, ("web1",)),
                                                          Wave(1, ("web2",))]])))
    assert document["schema"] == SCHEMA == "orc-plan/1"
    assert document["summary"]["hosts"] == 2 and document["summary"]["changed"] == 2
    play = document["plays"][0]
    assert play["waves"] == [{"wave": 1, "hosts": ["web1"]}, {"wave": 2, "hosts": ["web2"]}]
    assert list(play["hosts"]) == ["web1", "web2"]
    host = play["hosts"]["web2"]
    assert (host["wave"], host["status"], host["changed_tasks"]) == (2, "changed", 1)
    assert set(host["tasks"][0]) == {"name", "where", "role", "handler", "item", "status",
                                     "diff", "error"}


def test_plan_markdown_has_a_wave_table_and_collapsible_diffs() -> None:
    run = _plan({"web1": "a ``` b", "web2": "a ``` b"})
    text = to_markdown(run, [[Wave(0, ("web1",)), Wave(1, ("web2",))]])
    assert "| wave | hosts | would change | failed or unreachable |" in text
    assert "| 2 | web2 | 1 host | 0 |" in text
    assert text.count("<details>") == 1 and "</details>" in text
    assert "````diff" in text  # a fence longer than the backticks in the diff


def test_html_page_needs_no_network_and_marks_the_failed_wave() -> None:
    report = _rollout()
    run = Run(report.run_id, "site.yaml", [], {}, "halted", [], {}, None, None,
              report.started, report.finished)
    page = to_html(run, report.waves, [])
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert page.count('class="host-row"') == 4
    assert 'class="wave failed" data-wave="2"' in page
    assert 'class="bar health failed"' in page  # web4's checks
    assert page.count('class="bar apply"') == 4
    assert 'class="bar bake"' in page  # web1's second round of checks


def test_a_pipes_console_pads_no_line_to_its_width() -> None:
    out = io.StringIO()
    console = make_console(file=out)
    console.log("lab h4: 3 hosts up")
    console.rule("[bold]orc test nginx[/]")
    assert max(len(line) for line in out.getvalue().splitlines()) < 60


def test_diffs_that_differ_only_by_name_and_address_are_one_diff() -> None:
    run = _plan({f"web{n}": f"web{n} (10.0.0.{n}) is managed" for n in range(1, 4)})
    out = io.StringIO()
    print_plan(run, make_console(file=out),
               addresses={f"web{n}": f"10.0.0.{n}" for n in range(1, 4)})
    text = out.getvalue()
    assert text.count("is managed") == 1
    assert "+‹host› (‹address›) is managed" in text
    assert "(‹host› is each host's name, ‹address› its address)" in text
    # an address that only starts like another is not it
    run = _plan({"web1": "peer 10.0.0.10", "web2": "peer 10.0.0.20"})
    out = io.StringIO()
    print_plan(run, make_console(file=out), addresses={"web1": "10.0.0.1", "web2": "10.0.0.2"})
    assert out.getvalue().count("+peer 10.0.0.") == 2
