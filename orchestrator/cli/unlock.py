"""`orc unlock PATTERN [--run RUN]`: clear the rollout locks a dead controller left on hosts."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from orchestrator.rollout import locks
from orchestrator.adhoc import select_hosts
from orchestrator.cli import options
from orchestrator.cli.run import load
from orchestrator.report.console import make_console
from orchestrator.rollout.store import RunStore


@click.command()
@click.argument("pattern")
@options.inventory()
@click.option("--run", "run_id", metavar="RUN",
              help="Remove the locks of this run only (needed for a run this controller does "
                   "not know, e.g. one started on another machine).")
@options.state_dir
def unlock(pattern: str, sources: tuple[str, ...], run_id: str | None, state_dir: Path) -> None:
    """Remove the rollout lock (/var/lib/orc/rollout.lock) from the hosts PATTERN selects,
    when the controller that took it is gone (killed, or on another machine).

    Without --run, only locks that name no run (unreadable) and locks of runs this
    controller's index knows have ended are removed; a lock of another controller's run
    needs --run RUN, as the refusal that named it says. A run this controller is still
    running or has paused is never unlocked: resume or abort it. Exit code 0 when every
    selected host is left without a lock, 1 otherwise.
    """
    inventory = load(sources)
    hosts = select_hosts(inventory, pattern)
    outcome = locks.clear(inventory, hosts, RunStore(state_dir), run_id)
    table = Table(title=f"rollout locks on {pattern}")
    for column in ("host", "lock", "held by", "detail"):
        table.add_column(column)
    colours = {"removed": "green", "absent": "", "kept": "yellow", "failed": "red"}
    for item in outcome:
        status = f"[{colours[item.status]}]{item.status}[/]" if colours[item.status] \
            else item.status
        table.add_row(item.host, status, escape(item.lock.holder()) if item.lock else "",
                      escape(item.detail))
    make_console().print(table)
    sys.exit(0 if all(i.status in ("removed", "absent") for i in outcome) else 1)
