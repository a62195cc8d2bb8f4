"""`orc facts HOST|PATTERN [FACT...]`: what pyinfra knows about hosts, as a table or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from orchestrator import facts as facts_api
from orchestrator.adhoc import select_hosts
from orchestrator.cli import options
from orchestrator.cli.run import forks_option, inventory_option, load, timeout_option
from orchestrator.report.console import make_console


def _epilog() -> str:
    names = "\n".join(f"  {name:<10} {about}" for name, about in facts_api.known_facts())
    return (
        f"\b\nFacts (default: {' '.join(facts_api.DEFAULT_FACTS)}):\n{names}\n"
        "  MODULE.CLASS  any pyinfra fact, e.g. pyinfra.facts.server.Command:command=id"
    )


@click.command(epilog=_epilog())
@click.argument("pattern")
@click.argument("names", nargs=-1)
@inventory_option
@forks_option
@timeout_option
@click.option(
    "--lines", type=click.IntRange(min=0), default=12, show_default=True,
    help="Lines shown per value in the table (0: all); --json always has everything.",
)
@options.json_flag("Print every fact's full value as JSON.")
@click.pass_context
def facts(
    ctx: click.Context,
    pattern: str,
    names: tuple[str, ...],
    sources: tuple[str, ...],
    forks: int,
    timeout: float,
    lines: int,
    as_json: bool,
) -> None:
    """Read facts from the hosts PATTERN selects (a host name or an Ansible host pattern).

    A fact that takes arguments gets them after a colon: `file:path=/etc/hosts`. Exit status 1
    when a host could not be reached or a fact could not be read.
    """
    requests = [facts_api.parse_request(name) for name in names or facts_api.DEFAULT_FACTS]
    inventory = load(sources)
    found = facts_api.gather(
        inventory, select_hosts(inventory, pattern), requests, timeout=timeout, forks=forks
    )
    if as_json:
        click.echo(json.dumps(
            [{"host": h.host, "error": h.error, "facts": h.facts, "errors": h.errors}
             for h in found.values()],
            indent=2,
        ))
    else:
        render(list(found.values()), [r.label for r in requests], lines)
    ctx.exit(0 if all(h.ok for h in found.values()) else 1)


def render(found: list[facts_api.HostFacts], labels: list[str], limit: int) -> None:
    """One host: a fact per row. Several: a host per row and a fact per column."""
    table = Table(show_lines=True)
    if len(found) == 1:
        table.add_column("fact", style="bold")
        table.add_column(found[0].host, overflow="fold")
        for label in labels:
            table.add_row(label, _cell(found[0], label, limit))
    else:
        table.add_column("host", style="bold")
        for label in labels:
            table.add_column(label, overflow="fold")
        for host in found:
            if host.error:
                table.add_row(host.host, f"[red]{escape(host.error)}[/]",
                              *[""] * (len(labels) - 1))
            else:
                table.add_row(host.host, *[_cell(host, label, limit) for label in labels])
    make_console().print(table)


def _cell(host: facts_api.HostFacts, label: str, limit: int) -> str:
    if host.error or label in host.errors:
        return f"[red]{escape(host.error or host.errors[label])}[/]"
    name = label.partition(":")[0]
    lines = SUMMARIES.get(name, _lines)(host.facts[label])
    if limit and len(lines) > limit:
        lines = lines[:limit] + [f"... {len(lines) - limit} more"]
    return escape("\n".join(lines))


def _lines(value: Any) -> list[str]:
    """Any fact value as short lines: `key: value` for mappings, one item per line for lists."""
    if value is None or value == {} or value == []:
        return ["-"]
    if isinstance(value, dict):
        return [f"{key}: {_inline(item)}" for key, item in value.items()]
    if isinstance(value, list):
        return [_inline(item) for item in value]
    return str(value).splitlines() or [""]


def _inline(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return "-" if value is None else str(value)


def _os(value: dict) -> list[str]:
    meta = value.get("release_meta") or {}
    return [meta.get("PRETTY_NAME") or f"{value.get('name')} {value.get('major') or ''}".strip()]


def _uptime(seconds: int) -> list[str]:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min" if hours else \
        f"{rest // 60} min {rest % 60} s"
    return [text]


def _disks(value: dict) -> list[str]:
    def size(blocks: str) -> str:
        return f"{int(blocks) / 1024 ** 2:.1f} GiB"

    return [
        f"{d['mount']}: {d['used_percent']}% of {size(d['blocks'])} ({device})"
        for device, d in value.items()
    ]


def _packages(value: dict) -> list[str]:
    return [f"{len(value)} packages"] + [f"{name} {_inline(v)}" for name, v in value.items()]


def _services(value: dict) -> list[str]:
    running = [unit for unit, active in value.items() if active]
    return [f"{len(running)} of {len(value)} units running"] + running


def _users(value: dict) -> list[str]:
    return [f"{name} (uid {user.get('uid')}, {user.get('shell')})" for name, user in value.items()]


SUMMARIES: dict[str, Callable[[Any], list[str]]] = {
    "os": _os,
    "memory": lambda mib: [f"{mib} MiB"],
    "uptime": _uptime,
    "disks": _disks,
    "packages": _packages,
    "services": _services,
    "enabled": _services,
    "users": _users,
}
