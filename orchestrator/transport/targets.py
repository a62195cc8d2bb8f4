"""How to reach one inventory host with fabric: its address, port, user, key and become settings.

`orc run`, the rollout's host locks and command health checks all reach hosts this way, from the
same inventory connection variables pyinfra's connector reads (`inventory.connection_for`:
Ansible's `ansible_host`, `ansible_port`, `ansible_user`... and pyinfra's `ssh_*` names).
"""

from __future__ import annotations

import getpass

from orchestrator.errors import InputError
from orchestrator.inventory import Inventory, connection_for
from orchestrator.transport.remote import Target

# StrictHostKeyChecking values (as the inventory normalises them) that turn checking off
_NOT_STRICT = {"no", "off"}


def target_for(inventory: Inventory, name: str, *, become: bool | None = None,
               become_user: str | None = None) -> Target:
    """How to reach `name`. `become` None: as the inventory says (`ansible_become`); only sudo
    is supported to become another user (InputError otherwise)."""
    conn = connection_for(inventory, name)
    become = conn.become if become is None else become
    if become and conn.become_method != "sudo":
        raise InputError(
            f"host {name!r}: orc becomes other users with sudo only, "
            f"not {conn.become_method} (ansible_become_method)"
        )
    return Target(
        name=name,
        hostname=conn.hostname,
        port=conn.port,
        user=conn.user or getpass.getuser(),
        key_file=conn.key_file,
        known_hosts_file=conn.known_hosts_file,
        # accept-new and ask would add keys nobody vetted; unattended, orc refuses them instead
        strict_host_key_checking=conn.strict_host_key_checking not in _NOT_STRICT,
        password=conn.password,
        become=become,
        become_user=become_user or conn.become_user,
        become_password=conn.become_password,
        local=conn.local,
    )
