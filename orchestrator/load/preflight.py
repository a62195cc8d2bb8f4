"""Everything about a run that needs no host, checked before the run is recorded.

A missing age identity, a bad signature, a `serial:` that is no count, a canary that is not
among the play's hosts: each would otherwise be found by the first wave, after `orc apply` had
recorded a run (left failed in `orc runs`) and said "wave 1". Here they fail first, the run
index untouched. What needs a host (facts, a template that reads them, the secret versions a
host already has) is still checked per wave.
"""

from __future__ import annotations

from orchestrator.engine.options import RunOptions
from orchestrator.inventory import Inventory
from orchestrator.load.playbook import Playbook
from orchestrator.load.vars_files import play_vars_files
from orchestrator.rollout import Policy
from orchestrator.waves import plan_waves


def check_policies(book: Playbook, inventory: Inventory, options: RunOptions) -> None:
    """Each play's rollout policy and waves: what `--syntax-check` checks besides loading."""
    for play in book.plays:
        policy = Policy.of(play)
        plan_waves(play.name, inventory.select(play.hosts, options.limit), policy.serial,
                   list(policy.canary), play.location)


def preflight(book: Playbook, inventory: Inventory, options: RunOptions) -> None:
    """Raise the `OrcError` a run of `book` would meet before reaching any host: rollout
    policies and waves, and every play's `vars_files` (secret files decrypted with the local
    identity and their signatures verified, as each wave will again)."""
    check_policies(book, inventory, options)
    for play in book.plays:
        if inventory.select(play.hosts, options.limit):
            play_vars_files(play)
