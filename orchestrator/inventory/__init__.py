"""Ansible-compatible inventories: load them, merge their variables, select hosts by pattern.

    inventory = load_inventory(["inventory/production.yaml"])
    for name in inventory.select("web:&prod:!canary"):
        connection = connection_for(inventory, name)

Hosts, groups and merged variables are exactly what `ansible-inventory --list` reports for the
same sources, so an existing Ansible inventory moves to orc unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import InventoryError
from orchestrator.inventory.building import InventoryBuilder
from orchestrator.inventory.connection import Connection, connection_for
from orchestrator.inventory.model import Group, Host, Inventory
from orchestrator.inventory.patterns import Selection, match
from orchestrator.inventory.sources import normalize_source, read_source

# the inventory a command reads without -i: the one `orc lab up` writes
DEFAULT_SOURCE = "inventory/lab.yaml"

__all__ = [
    "DEFAULT_SOURCE",
    "Connection", "Group", "Host", "Inventory", "InventoryError", "Selection",
    "connection_for", "load_inventory", "match",
]


def load_inventory(
    sources: Sequence[str | Path], playbook_dir: str | Path | None = None
) -> Inventory:
    """Read inventory sources in order into one inventory, as several `-i` options do.

    `playbook_dir`, when given, adds the group_vars/host_vars beside a playbook, which Ansible
    merges above those beside the inventory.
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    if not sources:
        raise InventoryError("no inventory source given")
    normalized = tuple(normalize_source(os.fspath(source)) for source in sources)
    builder = InventoryBuilder()
    for source in normalized:
        read_source(builder, source)
    play = normalize_source(os.fspath(playbook_dir)) if playbook_dir is not None else None
    return builder.finish(normalized, play)
