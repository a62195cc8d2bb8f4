"""Ansible host patterns: `web`, `web*`, `~web\\d+`, `web:db`, `web:&prod`, `web:!canary`, `web[0]`.

The rules are ansible-core's: plain terms are applied first, then every `&` term, then every
`!` term, whatever their written order; a term matching a group name takes the group's hosts,
a glob or regex also matches host names. orc is stricter in one place: a term that starts with
an operator Ansible does not have (`web:^db`) is an error instead of a silent non-match, because
with `--limit` a typo would otherwise select nothing or, worse, everything.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from orchestrator.errors import InventoryError
from orchestrator.inventory.hostnames import parse_address

if TYPE_CHECKING:
    from orchestrator.inventory.model import Inventory

log = logging.getLogger(__name__)

_SUBSCRIPTED = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_COLON_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_GLOB_CHARS = (".", "?", "*", "[")
# characters a name, glob or regex may start with; any other leading punctuation is an operator
_NAME_START = frozenset("_*?[~./:")
_HELP = "use a:b (either), a:&b (both), a:!b (a but not b), ~regex, or a name or glob"


@dataclass(frozen=True)
class Selection:
    """Hosts a pattern selected, and the terms that matched no host and no group."""

    hosts: list[str]
    unmatched: list[str]


def split_pattern(pattern: str) -> list[str]:
    """Terms of a pattern: comma-separated, or ':'-separated unless the whole is one address."""
    if "," in pattern:
        terms = pattern.split(",")
    else:
        try:
            parse_address(pattern, allow_ranges=True)
            terms = [pattern]
        except ValueError:
            terms = _COLON_TERMS.findall(pattern)
    return [term.strip() for term in terms if term.strip()]


def _validate(inventory: Inventory, term: str, pattern: str) -> None:
    body = term[1:] if term[0] in "&!" else term
    if body in inventory.hosts or body in inventory.groups:
        return
    if not body:
        raise InventoryError(f"{term!r} in host pattern {pattern!r} needs a name after it; {_HELP}")
    first = body[0]
    if not (first.isalnum() or first in _NAME_START):
        raise InventoryError(f"unknown pattern operator {first!r} in {pattern!r}; {_HELP}")
    _compile(body)


@lru_cache(maxsize=512)
def _compile(term: str) -> re.Pattern[str]:
    try:
        return re.compile(term[1:] if term[0] == "~" else fnmatch.translate(term))
    except re.error as err:
        message = f"invalid regular expression in host pattern {term!r}: {err}"
        raise InventoryError(message) from None


def hosts_of_group(inventory: Inventory, name: str) -> list[str]:
    """Hosts of a group and its descendants: its own first, then level by level below it.

    ansible-core walks levels below the first through a set, so its order there can change from
    one run to the next; we keep declaration order at every level, which is what it shows when
    the set happens to iterate in insertion order.
    """
    return inventory.derived(("group-hosts", name), lambda: _hosts_of_group(inventory, name))


def _hosts_of_group(inventory: Inventory, name: str) -> list[str]:
    groups = inventory.groups
    ordered, seen = [name], {name}
    level = [name]
    while level:
        below: list[str] = []
        for group in level:
            for child in groups[group].children:
                if child not in seen:
                    seen.add(child)
                    below.append(child)
        ordered.extend(below)
        level = below
    hosts: dict[str, None] = {}
    for group in ordered:
        hosts.update(dict.fromkeys(groups[group].hosts))
    return list(hosts)


def _enumerate(inventory: Inventory, term: str, unmatched: list[str]) -> list[str]:
    regex = _compile(term)
    groups = [name for name in inventory.groups if regex.match(name)]
    results = [host for group in groups for host in hosts_of_group(inventory, group)]
    if not groups or term[0] == "~" or any(char in term for char in _GLOB_CHARS):
        results.extend(name for name in inventory.declared_hosts if regex.match(name))
    if not results and not groups and term != "all":
        unmatched.append(term)
    return results


def _match_term(inventory: Inventory, term: str, unmatched: list[str]) -> list[str]:
    if term[0] in "&!":
        term = term[1:]
    subscript = None
    match = _SUBSCRIPTED.match(term) if term[0] != "~" else None
    if match:
        term, index, start, _sep, end = match.groups()
        subscript = (int(index), None) if index else (int(start), int(end) if end else -1)
    hosts = _enumerate(inventory, term, unmatched)
    if not hosts or not subscript:
        return hosts
    start, stop = subscript
    try:
        if stop:
            return hosts[start : (len(hosts) - 1 if stop == -1 else stop) + 1]
        return [hosts[start]]
    except IndexError:
        raise InventoryError(f"no host matched the subscripted pattern {term}[{start}]") from None


def _evaluate(inventory: Inventory, terms: list[str], unmatched: list[str]) -> list[str]:
    plain = [t for t in terms if t[0] not in "&!"] or ["all"]
    ordered = plain + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]
    hosts: list[str] = []
    for term in ordered:
        if term in inventory.hosts:
            hosts.append(term)
            continue
        matched = _match_term(inventory, term, unmatched)
        if term[0] == "!":
            excluded = set(matched)
            hosts = [h for h in hosts if h not in excluded]
        elif term[0] == "&":
            kept = set(matched)
            hosts = [h for h in hosts if h in kept]
        else:
            present = set(hosts)
            hosts.extend(h for h in matched if h not in present)
    return list(dict.fromkeys(hosts))


def _terms(inventory: Inventory, pattern: str) -> list[str]:
    terms = split_pattern(pattern)
    if not terms:
        raise InventoryError(f"empty host pattern {pattern!r}; {_HELP}")
    for term in terms:
        _validate(inventory, term, pattern)
    return terms


def match(inventory: Inventory, pattern: str, limit: str | None = None) -> Selection:
    """Evaluate `pattern` (and a `--limit`) the way ansible-core does, keeping its host order."""
    unmatched: list[str] = []
    hosts = _evaluate(inventory, _terms(inventory, pattern), unmatched)
    if limit is not None:
        allowed = set(_evaluate(inventory, _terms(inventory, limit), unmatched))
        hosts = [h for h in hosts if h in allowed]
    return Selection(hosts, list(dict.fromkeys(unmatched)))


def select(inventory: Inventory, pattern: str, limit: str | None = None) -> list[str]:
    """Host names for a pattern; terms that match nothing are logged as warnings, like Ansible."""
    selection = match(inventory, pattern, limit)
    for term in selection.unmatched:
        log.warning("host pattern term %r matched no host and no group", term)
    return selection.hosts
