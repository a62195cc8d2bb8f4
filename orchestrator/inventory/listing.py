"""The inventory as `ansible-inventory --list` and `--graph` show it.

Both walk the groups from `all` through children in declaration order. `--list` names each group
once, leaves out groups with neither hosts nor children (their parent still names them) and never
lists `all`'s own hosts; `--graph` repeats a group under each of its parents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.inventory import patterns

if TYPE_CHECKING:
    from orchestrator.inventory.model import Inventory

PROFILE = "inventory_legacy"


def ansible_list(inventory: Inventory, limit: str | None = None) -> dict[str, Any]:
    hosts = patterns.match(inventory, "all", limit).hosts if limit else list(inventory.hosts)
    available = set(hosts)
    result: dict[str, Any] = {}
    done: set[str] = set()

    def add(name: str) -> None:
        group = inventory.groups[name]
        entry: dict[str, Any] = {}
        if name != "all":
            members = [host for host in group.hosts if host in available]
            if members:
                entry["hosts"] = members
        if group.children:
            entry["children"] = list(group.children)
        for child in group.children:
            if child not in done:
                add(child)
                done.add(child)
        if entry:
            result[name] = entry

    add("all")
    hostvars = {}
    for host in hosts:
        if variables := inventory.host_vars(host):
            hostvars[host] = variables
    result["_meta"] = {"hostvars": hostvars, "profile": PROFILE}
    return result


def graph_lines(inventory: Inventory, group: str = "all", show_vars: bool = False) -> list[str]:
    """`ansible-inventory --graph [GROUP] [--vars]`, line by line."""

    def line(text: str, depth: int) -> str:
        return "  |" * depth + "--" + text if depth else text

    def variables(values: dict[str, Any], depth: int) -> list[str]:
        return [line(f"{{{key} = {value}}}", depth) for key, value in sorted(values.items())]

    def walk(name: str, depth: int) -> list[str]:
        lines = [line(f"@{name}:", depth)]
        for child in inventory.groups[name].children:
            lines.extend(walk(child, depth + 1))
        if name != "all":
            for host in inventory.groups[name].hosts:
                lines.append(line(host, depth + 1))
                if show_vars:
                    lines.extend(variables(inventory.host_vars(host), depth + 2))
        if show_vars:
            lines.extend(variables(inventory.group_vars(name), depth + 1))
        return lines

    inventory.group(group)
    return walk(group, 0)
