"""A pyinfra host's data layers looked up directly, not rebuilt on every lookup.

pyinfra's `HostData` holds its layers as functions (override, host, groups, inventory-wide,
`@deploy` defaults: `pyinfra/api/host.py`), called on every attribute lookup, and the groups
layer merges every group's dict afresh each time. Every operation and every fact asks the host
for each of its 32 global arguments (`pop_global_arguments`), so a role of 30 operations costs
thousands of those rebuilds per host. The inventory an orc session builds never changes once
the State exists (`session.open_session` makes it whole), so its layers are taken once: the
same dict objects for override, host and inventory-wide data (a change to them is still seen),
the groups' merge made once, and the `@deploy` defaults still asked for at each lookup (they
change while a Python role's deploy function runs).
"""

from __future__ import annotations

from typing import Any


def resolve_layers(host: Any) -> None:
    """Replace `host.data`'s layer functions by what they return now (see the module
    docstring); the lookup order and every value stay pyinfra's."""
    inventory = host.inventory
    datas = host.data.__dict__.get("datas")
    if not isinstance(datas, tuple) or len(datas) != 6 or not isinstance(datas[0], dict):
        return  # another pyinfra's layers: left as they are
    override = datas[0]  # the host's own overrides (`host.data.x = ...`), a dict already
    host.data.__dict__["datas"] = (
        override,
        inventory.get_override_data(),
        inventory.get_host_data(host.name),
        inventory.get_groups_data(host.groups),
        inventory.get_data(),
        host.get_deploy_data,
    )
