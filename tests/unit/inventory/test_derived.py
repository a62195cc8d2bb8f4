"""`Inventory.derived`: what patterns compute from an inventory is kept with it, through a public
method (patterns.py once wrote the model's private cache)."""

from __future__ import annotations

from orchestrator.inventory.model import Group, Host, Inventory


def _inventory() -> Inventory:
    hosts = {name: Host(name) for name in ("web1", "web2", "db1")}
    groups = {"all": Group("all", children=["web", "db"]),
              "web": Group("web", hosts=["web1", "web2"]),
              "db": Group("db", hosts=["db1"])}
    return Inventory(hosts, groups)


def test_a_derived_value_is_computed_once_per_key() -> None:
    inventory = _inventory()
    calls: list[str] = []

    def compute() -> list[str]:
        calls.append("x")
        return ["a"]

    assert inventory.derived(("k", 1), compute) == ["a"]
    assert inventory.derived(("k", 1), compute) is inventory.derived(("k", 1), compute)
    assert calls == ["x"]
    inventory.derived(("k", 2), compute)
    assert len(calls) == 2


def test_group_hosts_are_derived_once_in_ansibles_order() -> None:
    inventory = _inventory()
    assert inventory.group_hosts("all") == ["web1", "web2", "db1"]
    assert inventory.derived(("group-hosts", "all"), lambda: []) == ["web1", "web2", "db1"]
