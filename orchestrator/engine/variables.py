"""The variables a task sees on one host, layered as Ansible layers them.

Lowest to highest: role defaults, inventory (group then host), play `vars`, `vars_files`, role
`vars`, role parameters, task `vars`, `-e` extra vars. Ansible's magic variables
(`inventory_hostname`, `groups`, `group_names`, `hostvars`, `play_hosts`, `role_name`) are set,
and pyinfra facts are reachable lazily as `facts.<name>`, gathered only when a template asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Play
from orchestrator.load.roles import Role, RoleRef
from orchestrator.load.tasks import Task
from orchestrator.load.vars_files import VarsFiles
from orchestrator.templating.render import Variables


# a host's runtime state, as hostvars shows it: its gathered facts (or None), then the layers
# its tasks set (include_vars, then set_fact and register)
Runtime = Callable[[str], tuple[Mapping[str, Any] | None, tuple[Mapping[str, Any], ...]]]


class HostVars(Mapping):
    """`hostvars[name]`: another host's variables, merged only when read: its inventory
    variables, then its gathered facts and what its tasks set (set_fact, register,
    include_vars), as Ansible's hostvars holds them (docs: special variables, `hostvars`)."""

    def __init__(self, inventory: Inventory, runtime: Runtime | None = None):
        self._inventory = inventory
        self._runtime = runtime

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self._inventory.hosts:
            raise KeyError(name)
        merged = dict(self._inventory.host_vars(name))
        if self._runtime is not None:
            gathered, layers = self._runtime(name)
            merged.update(gathered or {})
            for layer in layers:
                merged.update(layer)
        merged["inventory_hostname"] = name
        return merged

    def __iter__(self) -> Iterator[str]:
        return iter(self._inventory.hosts)

    def __len__(self) -> int:
        return len(self._inventory.hosts)


class LazyFacts(Mapping):
    """pyinfra facts of one host by friendly name (`facts.os_version`), fetched on first use."""

    def __init__(self, host: Any):
        self._host = host
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            from orchestrator.facts import fact_class

            self._cache[name] = self._host.get_fact(fact_class(name))
        return self._cache[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)



def play_variables(play: Play, inventory: Inventory, names: list[str],
                   vars_files: VarsFiles) -> dict[str, Any]:
    """What every host of the play shares: play vars, vars files, magic group variables."""
    groups = {group: inventory.group_hosts(group) for group in inventory.groups}
    groups.setdefault("all", list(inventory.hosts))
    shared: dict[str, Any] = {
        "groups": groups,
        "hostvars": HostVars(inventory),
        "play_hosts": list(names),
        "ansible_play_hosts": list(names),
        "ansible_play_hosts_all": list(names),
        "playbook_dir": str(Path(play.path).parent.resolve()),
    }
    shared.update(play.vars)
    shared.update(vars_files.values)
    return shared


# Ansible's `omit`: an argument whose value is this is left out, as if never given
OMIT = "__omit_place_holder__orc"
# Ansible's default `ansible_managed` string (DEFAULT_MANAGED_STR, ansible-core 2.19)
ANSIBLE_MANAGED = "Ansible managed"


def task_variables(base: Mapping[str, Any], inventory: Inventory, host: str, facts: LazyFacts,
                   task: Task, extra_vars: Mapping[str, Any], role: Role | None = None,
                   ref: RoleRef | None = None, gathered: Mapping[str, Any] | None = None,
                   runtime: tuple[Mapping[str, Any], ...] = (),
                   check_mode: bool = False) -> Variables:
    """`gathered`: the host's facts as variables (`ansible_facts`, `ansible_<name>`), just above
    inventory variables; `runtime`: what earlier tasks set on the host (include_vars, then
    set_fact and register), above task vars and below role parameters and extra vars, as in
    Ansible's variable precedence (docs: playbooks_variables, "Understanding variable
    precedence")."""
    merged: dict[str, Any] = {"omit": OMIT, "ansible_managed": ANSIBLE_MANAGED}
    if role is not None:
        merged.update(role.defaults)
    merged.update(inventory.host_vars(host))
    if gathered:
        merged.update(gathered)
    merged.update(base)
    if role is not None:
        merged.update(role.vars)
        merged["role_name"] = role.name
        # the role's fully qualified name; for a role outside a collection, its name
        merged["ansible_role_name"] = role.name
        merged["role_path"] = str(role.path)
    merged.update(task.vars)
    for layer in runtime:
        merged.update(layer)
    if ref is not None:
        merged.update(ref.params)
    merged.update(extra_vars)
    merged.update({
        "inventory_hostname": host,
        "inventory_hostname_short": host.split(".")[0],
        "group_names": sorted(g for g in inventory.host(host).groups if g != "all"),
        "facts": facts,
        "ansible_check_mode": check_mode,
    })
    merged.setdefault("ansible_host", host)
    return Variables(merged)
