"""`orc rollback RUN`: restore what a run changed, from the journals on its hosts."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from orchestrator.cli import interactive as is_interactive
from orchestrator.cli import options
from orchestrator.report.console import make_console
from orchestrator.rollout.rollback import RollbackOutcome, roll_back_run
from orchestrator.rollout.store import RunStore
from orchestrator.undo.drift import Drift


@click.command("rollback")
@click.argument("run_id")
@options.inventory("inventories", "Inventory to reach the hosts (default: the run's own, from "
                   "the index).", metavar=None)
@options.limit()
@click.option("-p", "--playbook", type=click.Path(dir_okay=False, path_type=Path),
              help="Playbook whose health checks run afterwards (default: the run's own).")
@options.state_dir
@click.option("--become", is_flag=True, help="Read journals and restore with sudo.")
@click.option("--force", is_flag=True,
              help="Overwrite changes made on the hosts since the run, and restore again a run "
                   "already rolled back.")
@options.ci("Never ask: changes since the run stop the rollback.")
@options.yes("Answer yes to the question orc would ask: overwrite changes made on the hosts "
             "since the run (they are listed in the report).")
@options.verbose("List every resource, not only changes.", per_host=False)
def rollback_command(run_id, inventories, limit, playbook, state_dir, become, force, ci, yes,
                     verbose) -> None:
    """Restore every resource RUN changed to its state before the run, newest first, then run
    the playbook's health checks on the restored hosts.

    Hosts are those of the run in the index; with `-i` and no index entry, every inventory
    host that holds a journal of RUN. A resource changed on a host since the run (drift) stops
    the rollback before anything is restored: on a terminal orc lists it and asks (`--yes`
    answers yes), elsewhere `--yes` or `--force` is needed. Each host is expected as healthy
    as it was before the run (a first deploy's hosts failed their checks before it). Exit code
    0 restored and healthy, 1 a restore or health check failed (or drift stopped it), 3
    restored but some tasks are irreversible (commands without `undo:`).
    """
    console = make_console(stderr=True)
    interactive = is_interactive(console, ci)
    outcome = roll_back_run(RunStore(state_dir), run_id, list(inventories), limit=limit,
                            playbook=playbook, sudo=become, force=force,
                            confirm=_confirm(yes, interactive, console))
    _render(outcome, verbose, make_console())
    irreversible = any(h.irreversible for h in outcome.report.hosts.values())
    sys.exit(1 if outcome.failed else 3 if irreversible else 0)


def _confirm(yes: bool, interactive: bool, console: Console):
    """What answers the drift question: --yes, the person at the terminal, or nobody."""
    if yes:
        return lambda drift: True
    return (lambda drift: _ask(drift, console)) if interactive else None


def _ask(drift: list[Drift], console: Console) -> bool:
    table = Table(title="changed on the hosts since the run")
    for column in ("host", "kind", "resource", "what changed", "task"):
        table.add_column(column)
    for item in drift:
        table.add_row(item.host, item.kind, item.key, item.what, item.task)
    console.print(table)
    return click.confirm("Roll back anyway, overwriting these changes?", default=False,
                         err=True)


def _render(outcome: RollbackOutcome, verbose: bool, console: Console) -> None:
    report = outcome.report
    table = Table(title=f"rollback of {report.run_id}")
    for column in ("host", "kind", "resource", "status", "detail"):
        table.add_column(column)
    for item in report.drift:
        table.add_row(item.host, item.kind, item.key, "[yellow]overwritten[/]",
                      f"changed since the run: {item.what}")
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
        for result in outcome.health.get(name, []):
            state = ("[green]healthy[/]" if result.ok else
                     "[yellow]unhealthy, as before the run[/]"
                     if name in outcome.unhealthy_before else "[red]unhealthy[/]")
            table.add_row(name, "health", result.check, state, result.detail)
    console.print(table)
    restored = sum(i.status == "restored" for h in report.hosts.values() for i in h.items)
    line = (f"run [bold]{report.run_id}[/]: {restored} resource(s) restored on "
            f"{len(report.hosts)} host(s)")
    if report.drift:
        line += f"; overwrote {len(report.drift)} change(s) made since the run"
    if report.failed:
        line += "; [red]failures[/]"
    if outcome.unhealthy:
        line += f"; [red]{len(outcome.unhealthy)} host(s) unhealthy[/]"
    if outcome.unhealthy_before:
        line += (f"; {len(outcome.unhealthy_before)} host(s) failing their checks as they did "
                 "before the run")
    if outcome.health_skipped:
        line += f"; health not checked: {outcome.health_skipped}"
    console.print(line)
