"""Rendering a run for people (rich tables, diffs) and for machines (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from orchestrator.results import CHANGED, FAILED, OK, SKIPPED, UNREACHABLE, RunResult

COLOURS = {OK: "green", CHANGED: "yellow", FAILED: "red", UNREACHABLE: "red", SKIPPED: "cyan"}


def summary_table(run: RunResult, verbose: bool = False) -> Table:
    title = "plan" if run.dry_run else "apply"
    table = Table(title=f"{title}: {run.playbook}")
    table.add_column("play")
    table.add_column("host")
    table.add_column("status")
    table.add_column("would change" if run.dry_run else "changed", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("detail")
    for play in run.plays:
        for host in play.hosts.values():
            status = host.status
            failed = [t for t in host.tasks if t.status == FAILED]
            detail = host.reason or ""  # the same words as the wave's reason
            table.add_row(play.name, host.host, f"[{COLOURS.get(status, 'white')}]{status}[/]",
                          str(host.changed), str(len(failed)), detail)
            if verbose:
                for task in host.tasks:
                    label = task.name + (f" ({task.item})" if task.item is not None else "")
                    if task.handler:
                        label = f"handler: {label}"
                    table.add_row("", f"  {label}", f"[{COLOURS.get(task.status, 'white')}]"
                                  f"{task.status}[/]", "", "", task.error or "")
    return table


def print_plan(run: RunResult, console: Console) -> None:
    """Per host, per task: what would change, with unified diffs of files."""
    for play in run.plays:
        console.rule(f"[bold]{play.name}")
        for host in play.hosts.values():
            if host.unreachable:
                console.print(f"[red]{host.host}: {host.error}[/]")
                continue
            changing = [t for t in host.tasks if t.status == CHANGED]
            console.print(f"[bold]{host.host}[/]: {len(changing)} task(s) would change")
            for task in changing:
                label = task.name + (f" ({task.item})" if task.item is not None else "")
                console.print(f"  [yellow]~[/] {label}  [dim]{task.where}[/]")
                if task.diff:
                    console.print(Syntax(task.diff, "diff", theme="ansi_dark",
                                         background_color="default"))
    console.print(summary_table(run))


def write_json(run: RunResult, path: Path) -> None:
    path.write_text(json.dumps(run.to_dict(), indent=2, default=str) + "\n")
