"""A plan for machines and CI: a stable JSON document, and Markdown for a job summary or a pull
request comment.

The JSON schema (`"schema": "orc-plan/1"`; fields are only ever added under this name) is
documented in the README, "Plans in CI". Diffs and errors are masked before they get here
(`engine.run.run_play` masks secret values), so a plan file can be uploaded as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.engine.results import CHANGED, FAILED, OK, UNREACHABLE, RunResult
from orchestrator.report.console import (
    changed_tasks,
    group_hosts,
    placeholder_note,
    plan_summary,
    task_label,
)
from orchestrator.report.hosts import count, fold_hosts
from orchestrator.secrets import masking
from orchestrator.rollout.waves import Wave

SCHEMA = "orc-plan/1"


def plan_document(run: RunResult, waves: Sequence[Sequence[Wave]]) -> dict[str, Any]:
    """The plan as plain data: `waves[i]` are the waves of the playbook's play i."""
    plays = []
    totals = {"hosts": 0, "changed": 0, "unchanged": 0, "failed": 0, "unreachable": 0}
    for index, play in enumerate(run.plays):
        play_waves = list(waves[index]) if index < len(waves) else []
        wave_of = {h: w.index + 1 for w in play_waves for h in w.hosts}
        hosts: dict[str, Any] = {}  # by host name, in inventory order
        for name, host in play.hosts.items():
            status = host.status
            totals["hosts"] += 1
            totals[{CHANGED: "changed", OK: "unchanged", UNREACHABLE: "unreachable"}.get(
                status, "failed")] += 1
            hosts[name] = {
                "wave": wave_of.get(name), "status": status,
                "changed_tasks": changed_tasks(host), "error": host.error,
                "tasks": [{"name": t.name, "where": t.where, "role": t.role,
                           "handler": t.handler, "item": t.item, "status": t.status,
                           "diff": t.diff, "error": t.error} for t in host.tasks],
            }
        plays.append({"name": play.name,
                      "waves": [{"wave": w.index + 1, "hosts": list(w.hosts)}
                                for w in play_waves],
                      "hosts": hosts})
    return {"schema": SCHEMA, "playbook": run.playbook, "summary": {
        **totals, "text": plan_summary(run)}, "plays": plays}


def write_json(run: RunResult, waves: Sequence[Sequence[Wave]], path: Path) -> None:
    data = json.loads(json.dumps(plan_document(run, waves), default=str))
    path.write_text(json.dumps(masking.hide_tree(data), indent=2) + "\n")  # no secret in it


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text` (CommonMark)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _code(text: str) -> str:
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks} {text} {ticks}" if "`" in text else f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(run: RunResult, waves: Sequence[Sequence[Wave]],
                addresses: Mapping[str, str] | None = None) -> str:
    """GitHub-flavoured Markdown: a summary line, each play's wave table, host groups with
    their tasks, and each diff in a collapsible `<details>` block."""
    out = [f"## orc plan: {_code(run.playbook)}", "", f"**{plan_summary(run)}**", ""]
    for index, play in enumerate(run.plays):
        out += [f"### play {_code(play.name)}", ""]
        play_waves = list(waves[index]) if index < len(waves) else []
        if play_waves:
            out += ["| wave | hosts | would change | failed or unreachable |",
                    "|---:|---|---:|---:|"]
            for wave in play_waves:
                results = [play.hosts[h] for h in wave.hosts if h in play.hosts]
                changing = sum(r.status == CHANGED for r in results)
                bad = sum(r.status in (FAILED, UNREACHABLE) for r in results)
                out.append(f"| {wave.index + 1} | {_cell(fold_hosts(wave.hosts))} | "
                           f"{count(changing, 'host')} | {bad} |")
            out.append("")
        for group in group_hosts(play, addresses):
            names = _code(fold_hosts(group.hosts))
            size = f" ({count(len(group.hosts), 'host')})" if len(group.hosts) > 1 else ""
            if group.status == UNREACHABLE:
                out += [f"- {names}{size}: **unreachable**: {group.error}", ""]
                continue
            what = (f"{count(group.changed, 'task')} would change" if group.changed
                    else "no change")
            if group.status == FAILED:
                what = "**failed**" + (f": {group.error}" if group.error else "")
            out += [f"- {names}{size}: {what}"]
            for change in group.tasks:
                mark = "~" if change.task.status == CHANGED else "✗"
                out.append(f"  - {mark} {_code(task_label(change.task))} "
                           f"<sub>{change.task.where}</sub>")
                for error, hosts in change.errors.items():
                    out.append(f"    - {fold_hosts(hosts)}: {_cell(error)}")
                for key, hosts in change.diffs.items():
                    diff = change.samples.get(key, key) if len(hosts) == 1 else key
                    note = placeholder_note(key) if diff is key else ""
                    fence = _fence(diff)
                    out += ["", f"    <details><summary>diff on {fold_hosts(hosts)}{note}"
                            "</summary>", "", f"    {fence}diff"]
                    out += [f"    {line}" for line in diff.rstrip("\n").split("\n")]
                    out += [f"    {fence}", "", "    </details>", ""]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def write_markdown(run: RunResult, waves: Sequence[Sequence[Wave]], path: Path,
                   addresses: Mapping[str, str] | None = None) -> None:
    path.write_text(to_markdown(run, waves, addresses))
