"""`orc apply` and `orc plan`: a playbook onto inventory hosts through pyinfra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.live import Live
from rich.table import Table

from orchestrator.errors import InputError
from orchestrator.execute import RunOptions, run_playbook
from orchestrator.inventory import load_inventory
from orchestrator.playbook import load_playbook
from orchestrator.report import COLOURS, print_plan, summary_table, write_json

DEFAULT_INVENTORY = "inventory/lab.yaml"


def _extra_vars(values: tuple[str, ...]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for value in values:
        if value.startswith("@"):
            data = yaml.safe_load(Path(value[1:]).read_text())
            if not isinstance(data, dict):
                raise InputError("an extra vars file must be a mapping", path=value[1:])
            extra.update(data)
        elif "=" in value:
            key, _, raw = value.partition("=")
            extra[key] = yaml.safe_load(raw) if raw else ""
        else:
            raise InputError(f"-e {value!r}: expected key=value or @file.yaml")
    return extra


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
    options = RunOptions(_extra_vars(extra_vars), _tags(tags), _tags(skip_tags), limit, dry_run)
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
    if json_path:
        write_json(run, json_path)
    sys.exit(1 if run.failed else 2 if run.changed else 0)


@click.command()
@run_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--ci", is_flag=True, help="No prompts, no live display: plain lines for logs.")
def apply(playbook, inventories, limit, tags, skip_tags, extra_vars, verbose, json_path, yes,
          ci) -> None:
    """Apply a playbook's plays to their hosts. Exit code: 0 success, 1 any failure."""
    book, inventory, options = _load(playbook, inventories, limit, tags, skip_tags, extra_vars,
                                     dry_run=False)
    console = Console()
    interactive = sys.stdin.isatty() and console.is_terminal and not ci
    if interactive and not yes:
        hosts = {h for play in book.plays for h in inventory.select(play.hosts, limit)}
        click.confirm(f"Apply {playbook} to {len(hosts)} host(s)?", abort=True)
    if interactive:
        run = _apply_live(book, inventory, options, console)
    else:
        def log(kind: str, data: dict) -> None:
            if kind == "play":
                click.echo(f"play {data['name']}: {len(data['hosts'])} host(s)")
            elif kind == "host":
                click.echo(f"  {data['host']}: {data['status']}")

        run = run_playbook(book, inventory, options, on_event=log)
    console.print(summary_table(run, verbose))
    if json_path:
        write_json(run, json_path)
    sys.exit(1 if run.failed else 0)


def _apply_live(book, inventory, options, console: Console):
    rows: dict[str, str] = {}
    current = {"play": ""}

    def render() -> Table:
        table = Table(title=f"applying {book.path} — {current['play']}")
        table.add_column("host")
        table.add_column("status")
        for host, status in rows.items():
            table.add_row(host, f"[{COLOURS.get(status, 'white')}]{status}[/]")
        return table

    with Live(render(), console=console, refresh_per_second=8, transient=True) as live:
        def update(kind: str, data: dict) -> None:
            if kind == "play":
                current["play"] = data["name"]
                rows.clear()
                rows.update({h: "running" for h in data["hosts"]})
            elif kind == "host":
                rows[data["host"]] = data["status"]
            live.update(render())

        return run_playbook(book, inventory, options, on_event=update)
