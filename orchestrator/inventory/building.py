"""Building an inventory from sources with the rules of ansible-core's InventoryData.

Sources only add groups, hosts, memberships and variables, in file order; the order of those
calls is what Ansible's output depends on (children lists, host lists, which value wins), so the
builder keeps it exactly. `finish` then applies Ansible's reconciliation: parentless groups join
`all`, hosts in no group join `ungrouped`, hosts with a real group leave it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from orchestrator.errors import InventoryError
from orchestrator.inventory.model import Group, Host, Inventory
from orchestrator.inventory.patterns import hosts_of_group

PRIORITY_VAR = "ansible_group_priority"


class InventoryBuilder:
    """Mutable inventory under construction; sources call it, `finish` freezes it."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
        self.hosts: dict[str, Host] = {}
        self._members: dict[str, set[str]] = {"all": set(), "ungrouped": set()}
        self._direct_groups: dict[str, list[str]] = {}
        self.add_child("all", "ungrouped")

    def add_group(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise InventoryError(f"a group name must be a non-empty string, got {name!r}")
        if name not in self.groups:
            self.groups[name] = Group(name)
            self._members[name] = set()
        return name

    def add_host(self, name: Any, group: str | None = None, port: int | None = None) -> str:
        if not isinstance(name, str) or not name:
            raise InventoryError(f"a host name must be a non-empty string, got {name!r}")
        if name not in self.hosts:
            host = self.hosts[name] = Host(name)
            self._direct_groups[name] = []
            if port:
                host.vars["ansible_port"] = int(port)
        if group is not None:
            self._join(name, group)
        return name

    def _join(self, host: str, group: str) -> None:
        if host not in self._members[group]:
            self._members[group].add(host)
            self.groups[group].hosts.append(host)
            self._direct_groups[host].append(group)

    def add_child(self, parent: str, child: str) -> None:
        """Make `child` (a group, or else a host) a member of group `parent`."""
        if parent not in self.groups:
            raise InventoryError(f"{parent!r} is not a known group")
        if child in self.groups:
            self._add_child_group(self.groups[parent], self.groups[child])
        elif child in self.hosts:
            self._join(child, parent)
        else:
            raise InventoryError(f"{child!r} is not a known host nor group")

    def _add_child_group(self, parent: Group, child: Group) -> None:
        if child.name in parent.children:
            return
        if child is parent or child.name in self._ancestors_of(parent.name):
            raise InventoryError(
                f"adding group {child.name!r} as a child of {parent.name!r} creates a loop"
            )
        parent.children.append(child.name)
        child.parents.append(parent.name)

    def _ancestors_of(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.groups[name].parents)
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.groups[current].parents)
        return seen

    def set_group_var(self, group: str, key: str, value: Any) -> None:
        if key == PRIORITY_VAR:
            # Ansible keeps the priority on the group instead of among its variables
            try:
                self.groups[group].priority = int(value)
            except (TypeError, ValueError):
                raise InventoryError(
                    f"{PRIORITY_VAR} of group {group!r} must be an integer, got {value!r}"
                ) from None
        else:
            self.groups[group].vars[key] = value

    def set_host_var(self, host: str, key: str, value: Any) -> None:
        self.hosts[host].vars[key] = value

    def finish(self, sources: tuple[str, ...] = (), playbook_dir: str | None = None) -> Inventory:
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                self.add_child("all", group.name)
        depth, ancestors = self._graph_functions()
        for group in self.groups.values():
            group.depth = depth(group.name)
        self._reconcile_ungrouped(ancestors)
        order = {name: (g.depth, g.priority, name) for name, g in self.groups.items()}
        closures: dict[tuple[str, ...], list[str]] = {}
        for host in self.hosts.values():
            direct = tuple(self._direct_groups[host.name])
            if direct not in closures:
                member_of = set().union(*(ancestors(name) for name in direct)) - {"all"}
                closures[direct] = sorted(member_of, key=order.__getitem__)
            host.groups = list(closures[direct])
        inventory = Inventory(hosts=self.hosts, groups=self.groups, sources=sources,
                              playbook_dir=playbook_dir)
        # patterns match host names in declaration order, `all` lists them group by group
        inventory.declared_hosts = tuple(self.hosts)
        inventory.hosts = {name: self.hosts[name] for name in hosts_of_group(inventory, "all")}
        return inventory

    def _graph_functions(self):
        groups = self.groups

        @cache
        def depth(name: str) -> int:
            parents = groups[name].parents
            return 1 + max(depth(parent) for parent in parents) if parents else 0

        @cache
        def ancestors(name: str) -> frozenset[str]:
            return frozenset({name}).union(*(ancestors(parent) for parent in groups[name].parents))

        return depth, ancestors

    def _reconcile_ungrouped(self, ancestors) -> None:
        ungrouped = self.groups["ungrouped"]
        leaving: set[str] = set()
        for name in self.hosts:
            direct = self._direct_groups[name]
            member_of = set().union(*(ancestors(group) for group in direct))
            if "ungrouped" in member_of:
                if member_of - {"all", "ungrouped"} and name in self._members["ungrouped"]:
                    leaving.add(name)
            elif member_of <= {"all"}:
                self._join(name, "ungrouped")
        if leaving:
            ungrouped.hosts = [h for h in ungrouped.hosts if h not in leaving]
            for name in leaving:
                self._members["ungrouped"].discard(name)
                if "ungrouped" in self._direct_groups[name]:
                    self._direct_groups[name].remove("ungrouped")
