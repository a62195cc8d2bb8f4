"""Pattern errors and non-matches (matches themselves are compared with ansible-core in
test_inventory_conformance.py)."""

from __future__ import annotations

import logging

import pytest

from orchestrator.errors import InventoryError
from orchestrator.inventory import load_inventory, match
from orchestrator.inventory.patterns import split_pattern
from tests.support.inventory_oracle import INVENTORIES


@pytest.fixture(scope="module")
def inventory():
    return load_inventory([INVENTORIES / "patterns" / "hosts.ini"])


@pytest.mark.parametrize("pattern, words", [
    ("web:^db", "unknown pattern operator '^'"),
    ("web:%db", "unknown pattern operator '%'"),
    ("@retry_file", "unknown pattern operator '@'"),
    ("web:!", "'!' in host pattern 'web:!' needs a name after it"),
    ("web,&", "'&' in host pattern 'web,&' needs a name after it"),
    ("&!web", "unknown pattern operator '!'"),
    ("~web(", "invalid regular expression in host pattern '~web('"),
    ("", "empty host pattern"),
    (" , ", "empty host pattern"),
    ("web[7]", "no host matched the subscripted pattern web[7]"),
])
def test_bad_pattern_is_an_error(inventory, pattern: str, words: str) -> None:
    with pytest.raises(InventoryError) as raised:
        inventory.select(pattern)
    assert words in raised.value.message


def test_terms_that_match_nothing_are_reported(inventory, caplog) -> None:
    selection = match(inventory, "web:nosuch:!gone*")
    assert selection.hosts == ["web1", "web2", "web3"]
    assert selection.unmatched == ["nosuch", "gone*"]
    with caplog.at_level(logging.WARNING):
        assert inventory.select("nosuch") == []
    assert "'nosuch' matched no host and no group" in caplog.text


def test_a_group_without_hosts_is_a_match_not_a_miss() -> None:
    inventory = load_inventory([INVENTORIES / "yaml_basic" / "hosts.yaml"])
    assert match(inventory, "monitoring").unmatched == []


@pytest.mark.parametrize("pattern, terms", [
    ("web:db", ["web", "db"]),
    ("web,db:prod", ["web", "db:prod"]),
    ("fe80::1", ["fe80::1"]),
    ("web[1:3]:db", ["web[1:3]", "db"]),
    ("db[1:3]", ["db[1:3]"]),
    (" web ,, db ", ["web", "db"]),
])
def test_patterns_split_on_commas_or_colons_but_not_inside_addresses(pattern, terms) -> None:
    assert split_pattern(pattern) == terms


def test_a_name_that_is_host_and_group_selects_the_host_but_group_hosts_the_group(inventory):
    assert inventory.select("web1") == ["web1"]
    assert inventory.group_hosts("web1") == ["other-host"]
    assert inventory.group_hosts("all")[:2] == ["localhost.localdomain", "10.0.0.5"]


def test_limit_narrows_a_pattern_keeping_its_order(inventory) -> None:
    assert inventory.select("db:web", limit="prod:staging") == ["db1", "db2", "web1", "web2"]
