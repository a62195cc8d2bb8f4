"""`orc rollback RUN`: restore what a run changed, from the journals on its hosts."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from orchestrator.errors import InputError
from orchestrator.inventory import load_inventory
from orchestrator.restore import RollbackReport
from orchestrator.restore import rollback as rollback_run
from orchestrator.runs import ROLLED_BACK, RunStore


@click.command()
@click.argument("run_id")
@click.option("-i", "--inventory", "inventories", multiple=True,
              help="Inventory to reach the hosts (default: the run's own, from the index).")
@click.option("-l", "--limit", help="Only hosts matching this pattern.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".orc"),
              show_default=True, help="Where the run index lives.")
@click.option("--become", is_flag=True, help="Read journals and restore with sudo.")
@click.option("--force", is_flag=True, help="Restore again a run already rolled back.")
@click.option("-v", "--verbose", is_flag=True, help="List every resource, not only changes.")
def rollback(run_id, inventories, limit, state_dir, become, force, verbose) -> None:
    """Restore every resource RUN changed to its state before the run, newest first.

    Hosts are those of the run in the index; with `-i` and no index entry, every inventory
    host that holds a journal of RUN. Exit code 0 restored, 1 a restore failed, 3 restored but
    some tasks are irreversible (commands without `undo:`).
    """
    store = RunStore(state_dir)
    try:
        run = store.get(run_id)
    except InputError:
        if not inventories:
            raise
        run = None
    if run is not None and run.status == ROLLED_BACK and not force:
        raise InputError(f"run {run.id} is already rolled back (--force restores its "
                         "pre-images again)")
    sources = list(inventories) or (run.inventory if run else [])
    playbook_dir = Path(run.playbook).parent if run else Path.cwd()
    inventory = load_inventory(sources, playbook_dir=playbook_dir)
    # a run holds `name@address:port` (older runs: the name)
    hosts = ([h.rpartition("@")[0] or h for h in run.hosts] if run
             else inventory.select("all", None))
    if limit:
        allowed = set(inventory.select("all", limit))
        hosts = [h for h in hosts if h in allowed]
    report = rollback_run(inventory, run.id if run else run_id, hosts, sudo=become, force=force)
    skipped = {h.skipped for h in report.hosts.values()}
    if report.hosts and None not in skipped:
        raise InputError(f"nothing to roll back of {report.run_id}: "
                         + "; ".join(sorted(str(s) for s in skipped)))
    if run is not None and not report.failed and not limit:
        store.set_status(run.id, ROLLED_BACK)
    _render(report, verbose, Console())
    irreversible = any(h.irreversible for h in report.hosts.values())
    sys.exit(1 if report.failed else 3 if irreversible else 0)


def _render(report: RollbackReport, verbose: bool, console: Console) -> None:
    table = Table(title=f"rollback of {report.run_id}")
    for column in ("host", "kind", "resource", "status", "detail"):
        table.add_column(column)
    for name, host in sorted(report.hosts.items()):
        if host.error:
            table.add_row(name, "", "", "[red]failed[/]", host.error)
        if host.skipped:
            table.add_row(name, "", "", "skipped", host.skipped)
        for item in host.items:
            if verbose or item.status != "unchanged":
                colour = {"restored": "green", "failed": "red"}.get(item.status, "yellow")
                table.add_row(name, item.kind, item.key, f"[{colour}]{item.status}[/]",
                              item.detail or item.task)
        for handler in host.handlers:
            table.add_row(name, "handler", handler, "", "")
    console.print(table)
    restored = sum(i.status == "restored" for h in report.hosts.values() for i in h.items)
    console.print(f"run [bold]{report.run_id}[/]: {restored} resource(s) restored on "
                  f"{len(report.hosts)} host(s)" + ("; [red]failures[/]" if report.failed else ""))
