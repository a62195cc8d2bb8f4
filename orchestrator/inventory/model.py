"""The loaded inventory: hosts, groups and the questions the rest of orc asks of them.

Loading (sources -> `InventoryBuilder` -> `Inventory`) happens once; afterwards an `Inventory` is
read-only plain data, so plans and waves can hold on to it without copying.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from orchestrator.errors import InventoryError
from orchestrator.inventory import listing, patterns
from orchestrator.inventory.resolve import VariableResolver

T = TypeVar("T")


@dataclass(eq=False)
class Group:
    """An Ansible group: its own variables, direct hosts and child groups in declaration order."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    priority: int = 1  # ansible_group_priority: orders sibling groups when merging variables
    depth: int = 0  # longest path from `all`: parents merge before children


@dataclass(eq=False)
class Host:
    """An inventory host and the variables set on it directly (not yet merged)."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    # every group the host is in, directly or through parents, except `all`; lowest precedence
    # first (depth, then ansible_group_priority, then name)
    groups: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Inventory:
    """Hosts (in Ansible's `all` order) and groups (in creation order) of one or more sources."""

    hosts: dict[str, Host]
    groups: dict[str, Group]
    sources: tuple[str, ...] = ()
    playbook_dir: str | None = None
    declared_hosts: tuple[str, ...] = field(default=(), repr=False)  # in order of first mention
    _derived: dict[Hashable, Any] = field(init=False, repr=False, default_factory=dict)
    _resolver: VariableResolver = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._resolver = VariableResolver(self)

    def host(self, name: str) -> Host:
        return _lookup(self.hosts, "host", name)

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """What `compute()` returns, computed once per `key` for this inventory (the hosts a
        group holds, ...): an inventory does not change once built, so what is derived from
        it is kept with it."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def group(self, name: str) -> Group:
        return _lookup(self.groups, "group", name)

    def host_vars(self, name: str) -> dict[str, Any]:
        """The host's merged inventory variables, as `ansible-inventory --host NAME` prints them."""
        return self._resolver.host_vars(name)

    def group_vars(self, name: str) -> dict[str, Any]:
        """A group's own variables plus its group_vars files (what `--graph --vars` shows)."""
        return self._resolver.group_vars(name)

    def group_hosts(self, name: str) -> list[str]:
        """Every host of a group and of the groups below it, in Ansible's order.

        This is what Ansible's `groups[name]` holds; unlike `select(name)` it never means the
        host when a host and a group share a name.
        """
        self.group(name)
        return list(patterns.hosts_of_group(self, name))

    def select(self, pattern: str, limit: str | None = None) -> list[str]:
        """Host names matching an Ansible host pattern (and `limit`, like `--limit`), in order."""
        return patterns.select(self, pattern, limit)

    def to_ansible_list(self, limit: str | None = None) -> dict[str, Any]:
        """The same data as `ansible-inventory --list [--limit LIMIT]`."""
        return listing.ansible_list(self, limit)


def _lookup(items: dict[str, Any], kind: str, name: str) -> Any:
    """items[name], or an error that suggests the nearest existing name."""
    if name in items:
        return items[name]
    close = difflib.get_close_matches(name, list(items), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InventoryError(f"no {kind} named {name!r} in the inventory{hint}")
