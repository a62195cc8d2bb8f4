"""Host entries: ports and ranges as Ansible reads them."""

from __future__ import annotations

import pytest

from orchestrator.errors import InventoryError
from orchestrator.inventory.hostnames import expand_host_entry


@pytest.mark.parametrize("entry, names, port", [
    ("web1", ["web1"], None),
    ("web1:2222", ["web1"], 2222),
    ("web[1:3]", ["web1", "web2", "web3"], None),
    ("web[01:03].lan:22", ["web01.lan", "web02.lan", "web03.lan"], 22),
    ("n[0:6:3]", ["n0", "n3", "n6"], None),
    ("r[a:c]", ["ra", "rb", "rc"], None),
    ("x[1:2]-[a:b]", ["x1-a", "x1-b", "x2-a", "x2-b"], None),
    ("10.0.0.[8:10]", ["10.0.0.8", "10.0.0.9", "10.0.0.10"], None),
    ("[fe80::1]:2022", ["fe80::1"], 2022),
    ("2001:db8::5", ["2001:db8::5"], None),
    ("not a host:22", ["not a host:22"], None),  # not an address: kept whole, like Ansible
])
def test_host_entries_expand_like_ansible(entry, names, port) -> None:
    assert expand_host_entry(entry) == (names, port)


@pytest.mark.parametrize("entry, words", [
    ("web[1:]", "must specify an end value"),
    ("web[01:3]", "equal-length begin and end"),
    ("web[c:a]", "begin <= end"),
    ("web[1:2:3:4]", "begin:end or begin:end:step"),
    ("web[1:x]", "neither numeric nor alphabetic"),
])
def test_bad_ranges_say_what_is_expected(entry, words) -> None:
    with pytest.raises(InventoryError, match=words.replace("[", r"\[")):
        expand_host_entry(entry)
