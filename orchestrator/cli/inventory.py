"""`orc inventory`: show an inventory as orc (and Ansible) reads it.

`--list`, `--host NAME` and `--graph [GROUP]` print exactly what `ansible-inventory` prints for the
same sources, so the two can be diffed; with no action, a terminal gets a tree of groups and hosts
and a pipe gets the `--list` JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.text import Text
from rich.tree import Tree

from orchestrator.cli import options
from orchestrator.inventory import Inventory, load_inventory, match
from orchestrator.inventory.listing import graph_lines
from orchestrator.inventory.patterns import hosts_of_group
from orchestrator.inventory.values import dumps
from orchestrator.report.console import make_console

DEFAULT_INVENTORY = Path(options.DEFAULT_INVENTORY)


def _tree(inventory: Inventory, hosts: set[str]) -> Tree:
    def label(name: str) -> Text:
        count = sum(1 for host in hosts_of_group(inventory, name) if host in hosts)
        hosts_text = f"  {count} host{'s' * (count != 1)}"
        return Text.assemble((f"@{name}", "bold cyan"), (hosts_text, "dim"))

    def grow(branch: Tree, name: str) -> None:
        group = inventory.groups[name]
        for child in group.children:
            if any(host in hosts for host in hosts_of_group(inventory, child)):
                grow(branch.add(label(child)), child)
        if name == "all":
            return
        for host in group.hosts:
            if host in hosts:
                variables = inventory.host_vars(host)
                address = variables.get("ssh_hostname") or variables.get("ansible_host")
                branch.add(Text.assemble(host, (f"  {address}" if address else "", "dim")))

    root = Tree(label("all"))
    grow(root, "all")
    return root


@click.command()
@options.inventory()
@click.option("--list", "action", flag_value="list", help="All hosts and groups as JSON.")
@click.option("--host", "host", metavar="NAME", help="One host's merged variables as JSON.")
@click.option("--graph", "action", flag_value="graph", help="Groups and hosts as a text graph.")
@click.option("--vars", "show_vars", is_flag=True, help="With --graph: show variables too.")
@options.limit("Only hosts matching an Ansible pattern.", metavar="PATTERN")
@click.option("--playbook-dir", type=click.Path(file_okay=False),
              help="Also merge group_vars/host_vars found beside a playbook.")
@click.argument("group", required=False)
def inventory(sources: tuple[str, ...], action: str | None, host: str | None, show_vars: bool,
              limit: str | None, playbook_dir: str | None, group: str | None) -> None:
    """Show the inventory: groups, hosts and merged variables, as ansible-inventory would."""
    if host and action:
        raise click.UsageError("use only one of --list, --host and --graph")
    if not sources:
        if not DEFAULT_INVENTORY.exists():
            raise click.UsageError(f"no inventory: pass -i SOURCE (no {DEFAULT_INVENTORY} here)")
        sources = (str(DEFAULT_INVENTORY),)
    inv = load_inventory(list(sources), playbook_dir=playbook_dir)
    selected = None
    if limit is not None and not host and action != "graph":
        selection = match(inv, "all", limit)
        for term in selection.unmatched:
            click.secho(f"warning: host pattern term {term!r} matched no host and no group",
                        fg="yellow", err=True)
        selected = selection.hosts
    if host:
        click.echo(dumps(inv.host_vars(host), mark_unsafe=False))
    elif action == "graph":
        click.echo("\n".join(graph_lines(inv, group or "all", show_vars)))
    elif action == "list" or not sys.stdout.isatty():
        click.echo(dumps(inv.to_ansible_list(limit) if limit else inv.to_ansible_list()))
    else:
        make_console().print(_tree(inv, set(selected if selected is not None else inv.hosts)))
