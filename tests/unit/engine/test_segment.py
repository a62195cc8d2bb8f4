"""The order a segment's new operations run in: every host's own order holds (pyinfra's
`State.get_op_order` rule), and only new operations are run."""

from __future__ import annotations

from orchestrator.engine import segment


def test_each_hosts_order_holds() -> None:
    new = {"h1": ["a", "b", "c"], "h2": ["a", "c"], "h3": ["d", "c"]}
    order = segment.order(new)
    for hashes in new.values():
        positions = [order.index(h) for h in hashes]
        assert positions == sorted(positions)
    assert sorted(order) == ["a", "b", "c", "d"]


class _Host:
    def __init__(self, hashes):
        self.op_hash_order = hashes


class _Inventory(list):
    pass


class _State:
    def __init__(self, hosts):
        self.inventory = _Inventory(hosts)


def test_only_what_was_added_since_the_mark() -> None:
    one, two = _Host(["a"]), _Host([])
    state = _State([one, two])
    start = segment.mark(state)
    one.op_hash_order += ["b", "c"]
    assert segment.added(state, start) == {one: ["b", "c"]}
