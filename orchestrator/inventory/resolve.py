"""Merging a host's inventory variables in ansible-core's order of precedence.

Lowest first: the `all` group's variables; every other group of the host, sorted by depth (parents
before children), then `ansible_group_priority`, then name; `group_vars/all` and then the host's
groups' `group_vars` beside each source in `-i` order (and beside the playbook, when there is
one); the host's own variables; its `host_vars` files. Values replace, never deep-merge, as with
Ansible's default `hash_behaviour=replace`. Hosts sharing the same groups share the group part.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from orchestrator.inventory.vars_files import VarsDirectory

if TYPE_CHECKING:
    from orchestrator.inventory.model import Inventory

# magic and play-time variables ansible-inventory never prints as inventory variables
INTERNAL_VARS = frozenset("""
    ansible_async_path ansible_collection_name ansible_config_file ansible_dependent_role_names
    ansible_diff_mode ansible_facts ansible_forks ansible_inventory_sources ansible_limit
    ansible_play_batch ansible_play_hosts ansible_play_hosts_all ansible_play_role_names
    ansible_playbook_python ansible_role_name ansible_role_names ansible_run_tags ansible_skip_tags
    ansible_verbosity ansible_version inventory_dir inventory_file inventory_hostname
    inventory_hostname_short groups group_names hostvars playbook_dir play_hosts role_name
    role_names role_path role_uuid
""".split())


def vars_basedir(source: str) -> str | None:
    """The directory whose group_vars/host_vars apply to a source (none for a host list)."""
    if "," in source and not os.path.exists(source):
        return None
    return source if os.path.isdir(source) else os.path.dirname(source)


def _public(variables: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in variables.items() if key not in INTERNAL_VARS}


class VariableResolver:
    """Computes and caches merged variables for one inventory."""

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        cache: dict[str, VarsDirectory] = {}
        # one entry per source, repeats included: a directory named twice is merged twice
        self.source_dirs = [
            cache.setdefault(d, VarsDirectory(d))
            for d in map(vars_basedir, inventory.sources)
            if d is not None
        ]
        self.play_dirs = [VarsDirectory(inventory.playbook_dir)] if inventory.playbook_dir else []
        self._by_groups: dict[tuple[str, ...], dict[str, Any]] = {}

    def _group_part(self, groups: tuple[str, ...]) -> dict[str, Any]:
        if groups not in self._by_groups:
            inventory_groups = self.inventory.groups
            merged = dict(inventory_groups["all"].vars)
            for name in groups:
                merged |= inventory_groups[name].vars
            for dirs in (self.source_dirs, self.play_dirs):
                for directory in dirs:
                    merged |= directory.group("all")
            for dirs in (self.source_dirs, self.play_dirs):
                for directory in dirs:
                    for name in groups:
                        merged |= directory.group(name)
            self._by_groups[groups] = merged
        return self._by_groups[groups]

    def host_vars(self, name: str) -> dict[str, Any]:
        host = self.inventory.host(name)
        merged = self._group_part(tuple(host.groups)) | host.vars
        for directory in (*self.source_dirs, *self.play_dirs):
            merged |= directory.host(name)
        return _public(merged)

    def group_vars(self, name: str) -> dict[str, Any]:
        group = self.inventory.group(name)
        merged = dict(group.vars)
        for directory in (*self.source_dirs, *self.play_dirs):
            merged |= directory.group(name)
        if group.priority != 1:
            merged["ansible_group_priority"] = group.priority
        return _public(merged)
