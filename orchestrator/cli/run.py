"""`orc run PATTERN -- COMMAND`: a shell command on many hosts, answers grouped in one table."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from orchestrator import adhoc
from orchestrator.cli import options
from orchestrator.cli.options import DEFAULT_INVENTORY
from orchestrator.inventory import Inventory, load_inventory
from orchestrator.report.console import make_console
from orchestrator.report.hosts import fold_hosts

inventory_option = options.inventory()
forks_option = options.forks(20, "How many hosts to work on at once.")
timeout_option = click.option(
    "-T", "--timeout", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
    help="Seconds to wait for a host to answer before calling it unreachable.",
)


def load(sources: tuple[str, ...]) -> Inventory:
    return load_inventory(list(sources) or [DEFAULT_INVENTORY])


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("pattern")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@inventory_option
@forks_option
@timeout_option
@click.option(
    "--command-timeout", type=click.FloatRange(min=0.1), default=600.0, show_default=True,
    help="Seconds a command may run before it is cut off on that host.",
)
@options.become("Run the command through sudo, or not (default: as the inventory says).")
@click.option("--become-user", help="User to become (default root); implies --become.")
@click.option(
    "--lines", type=click.IntRange(min=1), default=10, show_default=True,
    help="Lines of output shown per group of hosts.",
)
@options.json_flag("Print every host's result as JSON.")
@click.pass_context
def run(
    ctx: click.Context,
    pattern: str,
    command: tuple[str, ...],
    sources: tuple[str, ...],
    forks: int,
    timeout: float,
    command_timeout: float,
    become: bool | None,
    become_user: str | None,
    lines: int,
    as_json: bool,
) -> None:
    """Run COMMAND on the hosts PATTERN selects, in parallel over SSH.

    PATTERN is an Ansible host pattern (`all`, `web`, `web:&prod`, `web*:!web1`). COMMAND goes
    after `--` and is run by the remote shell, its words joined by spaces as ssh does:
    `orc run web -- 'systemctl is-active nginx || journalctl -u nginx -n 5'`.

    Hosts that answered identically are shown as one row. Exit status 1 when any host failed or
    could not be reached.
    """
    options = adhoc.CommandOptions(
        forks=forks, timeout=timeout, command_timeout=command_timeout,
        become=True if become_user else become, become_user=become_user,
    )
    result = adhoc.run(load(sources), pattern, " ".join(command), options)
    if as_json:
        click.echo(json.dumps(as_data(result), indent=2))
    else:
        render(result, lines)
    ctx.exit(0 if result.ok else 1)


def as_data(result: adhoc.AdhocRun) -> dict:
    return {
        "pattern": result.pattern,
        "command": result.command,
        "ok": result.ok,
        "counts": result.counts(),
        "hosts": [
            {
                "host": r.host,
                "exit_code": r.exit_code,
                "error": r.error,
                "stdout": r.stdout,
                "stderr": r.stderr,
                "duration": round(r.duration, 3),
            }
            for r in result.results.values()
        ],
        "groups": [
            {"hosts": list(g.hosts), "exit_code": g.exit_code, "error": g.error,
             "stdout": g.stdout, "stderr": g.stderr}
            for g in result.groups
        ],
    }


def render(result: adhoc.AdhocRun, lines: int) -> None:
    console = make_console()
    table = Table(show_lines=True)
    table.add_column("hosts", style="bold", overflow="fold")
    table.add_column("exit", justify="right")
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("output", overflow="fold")
    for group in result.groups:
        table.add_row(
            f"{fold_hosts(group.hosts)}" + (f"\n[dim]{len(group.hosts)} hosts[/]"
                                             if len(group.hosts) > 1 else ""),
            _status(group),
            _span(group.durations),
            _output(group, lines),
        )
    console.print(table)
    counts = result.counts()
    summary = ", ".join(f"{n} {word}" for word, n in counts.items() if n or word == "ok")
    colour = "green" if result.ok else "red"
    count = len(result.results)
    console.print(f"[{colour}]{count} host{'s' * (count != 1)}: {summary}[/]")


def _status(group: adhoc.OutputGroup) -> str:
    if group.exit_code is None:
        return "[red]-[/]"
    return f"[{'green' if group.ok else 'red'}]{group.exit_code}[/]"


def _span(durations: tuple[float, ...]) -> str:
    low, high = min(durations), max(durations)
    return f"{high:.2f} s" if high - low < 0.005 else f"{low:.2f}-{high:.2f} s"


def _output(group: adhoc.OutputGroup, limit: int) -> str:
    shown = [f"[red]{escape(group.error)}[/]"] if group.error else []
    shown += [escape(line) for line in group.stdout.splitlines()]
    shown += [f"[red]{escape(line)}[/]" for line in group.stderr.splitlines()]
    if len(shown) > limit:
        shown = shown[:limit] + [f"[dim]... {len(shown) - limit} more lines[/]"]
    return "\n".join(shown)

