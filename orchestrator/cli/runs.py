"""`orc runs`, `orc show RUN`, `orc abort RUN`: the history this controller keeps in `.orc/`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.table import Table

from orchestrator.cli import options
from orchestrator.events import RunReported
from orchestrator.report.console import make_console, rollout_table
from orchestrator.report.html import HtmlReport
from orchestrator.report.model import waves_from_store
from orchestrator.rollout.run import RolloutReport, abort_run
from orchestrator.rollout.store import INTERRUPTED, PAUSED, RUNNING, RunStore


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


@click.command()
@options.state_dir
@options.json_flag("Print JSON instead of a table.")
def runs(state_dir: Path, as_json: bool) -> None:
    """List runs, newest first: id, state, playbook, hosts, when."""
    listed = RunStore(state_dir).list()
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in listed], indent=2))
        return
    table = Table(title="runs")
    for column in ("run", "state", "playbook", "hosts", "next", "started", "updated"):
        table.add_column(column)
    for run in listed:
        pending = run.status in (PAUSED, INTERRUPTED, RUNNING)
        table.add_row(run.id, run.status, Path(run.playbook).name, str(len(run.hosts)),
                      f"play {run.position['play'] + 1} wave {run.position['wave'] + 1}"
                      if pending else "-",
                      _when(run.created), _when(run.updated))
    make_console().print(table)


@click.command()
@click.argument("run_id")
@options.state_dir
@options.json_flag("Print JSON instead of tables.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the run as one self-contained HTML page here (timeline, hosts, "
                   "diffs, health, rollback).")
@options.verbose("A row per host, not per group of hosts that fared alike.")
def show(run_id: str, state_dir: Path, as_json: bool, html_path: Path | None,
         verbose: bool) -> None:
    """Show one run: its waves, and per host what happened; --html writes a page of it."""
    store = RunStore(state_dir)
    run = store.get(run_id)
    waves = store.waves(run.id)
    if as_json:
        click.echo(json.dumps({"run": run.__dict__, "waves": waves,
                               "preimages": store.preimages(run.id)}, indent=2, default=str))
        return
    report = RolloutReport(run.id, Path(run.playbook).name, run.status,
                           waves=waves_from_store(waves))
    if html_path:
        HtmlReport(html_path, store)(RunReported(report))
        click.echo(f"wrote {html_path}")
        return
    console = make_console()
    console.print(f"run [bold]{run.id}[/]: {run.status} — {run.playbook}")
    if report.waves:
        console.print(rollout_table(report, verbose))
    recorded: dict[str, dict[str, int]] = {}
    for image in store.preimages(run.id):
        kinds = recorded.setdefault(image["host"], {})
        kinds[image["kind"]] = kinds.get(image["kind"], 0) + 1
    for host, kinds in sorted(recorded.items()):
        console.print(f"{host}: recorded " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))


@click.command()
@click.argument("run_id")
@options.state_dir
def abort(run_id: str, state_dir: Path) -> None:
    """End a paused or interrupted run: its remaining waves never run, its hosts are free."""
    run = abort_run(RunStore(state_dir), run_id)
    click.echo(f"run {run.id}: {run.status}")
