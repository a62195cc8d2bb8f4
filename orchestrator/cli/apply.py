"""`orc apply` and `orc plan`: a playbook onto inventory hosts through pyinfra."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from orchestrator import junit
from orchestrator.cli import interactive as is_interactive
from orchestrator.errors import InputError, OrcError
from orchestrator.execute import RunOptions, run_playbook
from orchestrator.extravars import parse_extra_vars
from orchestrator.inventory import load_inventory
from orchestrator.journal import KEEP_RUNS
from orchestrator.playbook import load_playbook
from orchestrator.report import COLOURS, print_plan, summary_table, write_json
from orchestrator.results import RunResult
from orchestrator.rollout import run_rollout, wave_table
from orchestrator.runs import FAILED, INTERRUPTED, PAUSED, RunStore, lock_keys

DEFAULT_INVENTORY = "inventory/lab.yaml"


def _tags(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t.strip() for v in values for t in v.split(",") if t.strip())


def run_options(f):
    f = click.argument("playbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))(f)
    f = click.option("-i", "--inventory", "inventories", multiple=True,
                     help=f"Inventory source (repeatable; default {DEFAULT_INVENTORY}).")(f)
    f = click.option("-l", "--limit", help="Only hosts matching this pattern.")(f)
    f = click.option("-t", "--tags", multiple=True, help="Only tasks with these tags.")(f)
    f = click.option("--skip-tags", multiple=True, help="Skip tasks with these tags.")(f)
    f = click.option("-e", "--extra-vars", multiple=True,
                     help="key=value or @file.yaml; highest precedence.")(f)
    f = click.option("-v", "--verbose", is_flag=True, help="Show every task per host.")(f)
    f = click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write a JSON report here.")(f)
    return f


def _load(playbook: Path, inventories: tuple[str, ...], limit, tags, skip_tags, extra_vars,
          dry_run: bool):
    book = load_playbook(playbook)
    inventory = load_inventory(list(inventories) or [DEFAULT_INVENTORY],
                               playbook_dir=playbook.parent)
    options = RunOptions(parse_extra_vars(extra_vars), _tags(tags), _tags(skip_tags), limit,
                         dry_run)
    return book, inventory, options


@click.command()
@run_options
def plan(playbook, inventories, limit, tags, skip_tags, extra_vars, verbose, json_path) -> None:
    """Show what `apply` would change on each host (diffs of files); change nothing.

    Exit code: 0 nothing would change, 2 something would change, 1 error.
    """
    book, inventory, options = _load(playbook, inventories, limit, tags, skip_tags, extra_vars,
                                     dry_run=True)
    console = Console()
    with console.status("gathering facts"):
        run = run_playbook(book, inventory, options)
    print_plan(run, console)
    waves = Table(title="waves")
    for column in ("play", "wave", "hosts"):
        waves.add_column(column)
    for play_name, play_waves in wave_table(book, inventory, limit):
        for wave in play_waves:
            waves.add_row(play_name, str(wave.index + 1), ", ".join(wave.hosts))
    console.print(waves)
    if json_path:
        write_json(run, json_path)
    sys.exit(1 if run.failed else 2 if run.changed else 0)


@click.command()
@run_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--ci", is_flag=True, help="No prompts, no live display: plain lines for logs.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JUnit XML report here (a test case per host per wave).")
@click.option("--pause-after-wave", type=int, help="Pause the run after this wave of each play.")
@click.option("--allow-downgrade", is_flag=True,
              help="Deploy a secret older than the version the hosts already have.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".orc"),
              show_default=True, help="Where the run index lives.")
@click.option("--keep-runs", type=click.IntRange(min=0), default=KEEP_RUNS, show_default=True,
              envvar="ORC_KEEP_RUNS",
              help="Runs whose journals (on each host) and index entries are kept; 0 keeps all.")
def apply(playbook, inventories, limit, tags, skip_tags, extra_vars, verbose, json_path, yes,
          ci, junit_path, pause_after_wave, allow_downgrade, state_dir, keep_runs) -> None:
    """Roll a playbook out in canary waves: apply, health-gate and bake each wave.

    Exit codes: 0 every wave succeeded; 1 a host failed, a wave halted the run, or an error;
    4 the run paused (continue with `orc resume RUN`).
    """
    book, inventory, options = _load(playbook, inventories, limit, tags, skip_tags, extra_vars,
                                     dry_run=False)
    options = RunOptions(**{**options.__dict__, "allow_downgrade": allow_downgrade,
                            "keep_runs": keep_runs})
    console = Console()
    interactive = is_interactive(console, ci)
    hosts = sorted({h for play in book.plays for h in inventory.select(play.hosts, limit)})
    if interactive and not yes:
        click.confirm(f"Roll {playbook} out to {len(hosts)} host(s)?", abort=True)
    store = RunStore(state_dir)
    stored = {**_stored_options(options), "pause_after_wave": pause_after_wave}
    run = store.start(str(playbook.resolve()), _sources(inventories), stored,
                      lock_keys(inventory, hosts))
    store.prune(keep_runs)
    _finish(_execute(book, inventory, options, store, run, pause_after_wave, interactive,
                     console), verbose, json_path, junit_path, console)


def _sources(inventories: tuple[str, ...]) -> list[str]:
    return [str(Path(i).resolve()) for i in (inventories or (DEFAULT_INVENTORY,))]


def _stored_options(options: RunOptions) -> dict[str, Any]:
    return {"extra_vars": options.extra_vars, "tags": sorted(options.tags),
            "skip_tags": sorted(options.skip_tags), "limit": options.limit,
            "allow_downgrade": options.allow_downgrade, "keep_runs": options.keep_runs}


def _execute(book, inventory, options, store, run, pause_after_wave, interactive, console):
    try:
        return _rollout(book, inventory, options, store, run, pause_after_wave, interactive,
                        console)
    except OrcError:
        store.set_status(run.id, FAILED)  # stopped by bad input: not resumable, not running
        raise


def _rollout(book, inventory, options, store, run, pause_after_wave, interactive, console):
    if interactive:
        view = LiveRollout(book, console)
        with view:
            return run_rollout(book, inventory, options, store, run,
                               pause_after_wave=pause_after_wave, on_event=view.update)
    click.echo(f"run {run.id}")
    return run_rollout(book, inventory, options, store, run, pause_after_wave=pause_after_wave,
                       on_event=log_line)


def _finish(report, verbose, json_path, junit_path, console) -> None:
    for wave in report.waves:
        if wave.apply is not None:
            console.print(summary_table(RunResult(report.playbook, False, [wave.apply]), verbose))
    console.print(f"run [bold]{report.run_id}[/]: [{'green' if not report.failed else 'red'}]"
                  f"{report.status}[/]")
    if json_path:
        json_path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    if junit_path:
        junit.write(report, junit_path)
    sys.exit(4 if report.status == PAUSED else 1 if report.failed else 0)


def log_line(kind: str, data: dict) -> None:
    """CI mode: one plain line per event, nothing that needs a terminal."""
    if kind == "wave":
        click.echo(f"{data['play']}: wave {data['wave'] + 1}: {', '.join(data['hosts'])}")
    elif kind == "host":
        click.echo(f"  {data['host']}: {data['status']}")
    elif kind == "health":
        click.echo(f"  health checks on {len(data['hosts'])} host(s)")
    elif kind == "wave-done":
        reason = f" ({data['reason']})" if data.get("reason") else ""
        click.echo(f"  wave {data['wave'] + 1}: {data['status']}{reason}")
    elif kind == "rolled-back":
        click.echo(f"  rollback ({data['mode']}) of {', '.join(data['hosts'])}: "
                   f"{'ok' if data['ok'] else 'FAILED'}")
    elif kind == "run":
        click.echo(f"run {data['run']}: {data['status']}")


class LiveRollout:
    """Waves as rows, the hosts of each with their status, health and the bake countdown."""

    def __init__(self, book, console: Console):
        self.book = book
        self.console = console
        self.rows: list[dict[str, Any]] = []
        self.live = Live(self.render(), console=console, refresh_per_second=8, transient=True)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def render(self) -> Table:
        table = Table(title=f"rolling out {getattr(self.book, 'path', '')}")
        for column in ("play", "wave", "hosts", "state"):
            table.add_column(column)
        for row in self.rows:
            hosts = " ".join(f"[{COLOURS.get(st, 'white')}]{h}[/]" for h, st in row["hosts"].items())
            table.add_row(row["play"], str(row["wave"] + 1), hosts, row["state"])
        return table

    def update(self, kind: str, data: dict) -> None:
        if kind == "wave":
            self.rows.append({"play": data["play"], "wave": data["wave"], "state": "applying",
                              "hosts": {h: "running" for h in data["hosts"]}})
        elif self.rows and kind == "host" and data["host"] in self.rows[-1]["hosts"]:
            self.rows[-1]["hosts"][data["host"]] = data["status"]
        elif self.rows and kind == "health":
            self.rows[-1]["state"] = "health checks"
        elif self.rows and kind == "bake":
            self.rows[-1]["state"] = f"baking, {data['remaining']:.0f} s left"
        elif self.rows and kind == "wave-done":
            self.rows[-1]["state"] = data["status"] + (f": {data['reason']}" if data["reason"]
                                                       else "")
        self.live.update(self.render())


@click.command()
@click.argument("run_id")
@click.option("--ci", is_flag=True, help="No live display: plain lines for logs.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-v", "--verbose", is_flag=True)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".orc"),
              show_default=True)
def resume(run_id, ci, json_path, junit_path, verbose, state_dir) -> None:
    """Continue a paused or interrupted run with its next wave."""
    store = RunStore(state_dir)
    stored = store.get(run_id)
    if stored.status not in (PAUSED, INTERRUPTED):
        raise InputError(f"run {stored.id} is {stored.status}: only a paused or interrupted run "
                         "can be resumed")
    book = load_playbook(Path(stored.playbook))
    inventory = load_inventory(stored.inventory, playbook_dir=Path(stored.playbook).parent)
    saved = stored.options
    options = RunOptions(saved.get("extra_vars") or {}, frozenset(saved.get("tags") or ()),
                         frozenset(saved.get("skip_tags") or ()), saved.get("limit"), False,
                         bool(saved.get("allow_downgrade")),
                         keep_runs=saved.get("keep_runs", KEEP_RUNS))
    run = store.start(stored.playbook, stored.inventory, saved, stored.hosts, run_id=stored.id)
    console = Console()
    interactive = is_interactive(console, ci)
    _finish(_execute(book, inventory, options, store, run, saved.get("pause_after_wave"),
                     interactive, console), verbose, json_path, junit_path, console)
