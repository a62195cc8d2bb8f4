"""Which variables a task reads, found in its templates without rendering them.

The engine batches consecutive tasks into one pyinfra run unless a task reads a result that is
not known yet; this is how it tells. Names are the variables jinja2's parser finds loaded in
every template of the task's arguments, `when`, `changed_when`, `failed_when` and loop, less
those the template assigns itself (`for`, `set`). Filters and tests need not be known here
(jinja2.meta's analysis compiles, and fails on an unknown filter). A template it cannot parse
reads everything (the safe answer: the task waits).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes

EVERYTHING = frozenset({"*"})
_ENV = jinja2.Environment()


@lru_cache(maxsize=4096)
def _names(source: str) -> frozenset[str]:
    try:
        tree = _ENV.parse(source)
    except Exception:  # noqa: BLE001 - unparsable here: assume it reads anything
        return EVERYTHING
    if any(_reads_by_name(call) for call in tree.find_all(nodes.Call)):
        return EVERYTHING
    loaded = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return frozenset(loaded - stored - {"lookup", "query", "q"})  # jinja2 globals


# lookups that read no variable but their terms (`vars`, `varnames` and `template` read any)
_PLAIN_LOOKUPS = {"file", "env", "pipe", "fileglob", "first_found", "items", "list", "dict",
                  "indexed_items", "sequence", "subelements", "together", "nested"}


def _reads_by_name(call: nodes.Call) -> bool:
    """A `lookup()`/`query()` whose variables are not in the template: `vars`, `varnames`,
    `template`, or a lookup named by an expression."""
    if not (isinstance(call.node, nodes.Name) and call.node.name in ("lookup", "query", "q")):
        return False
    first = call.args[0] if call.args else None
    if not isinstance(first, nodes.Const) or not isinstance(first.value, str):
        return True
    return first.value.rsplit(".", 1)[-1] not in _PLAIN_LOOKUPS


def _conditions(value: Any) -> list[str]:
    """A `when`-like value as templates: bare expressions are wrapped as Ansible does."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, list):
        return [t for v in value for t in _conditions(v)]
    text = str(value).strip()
    return [text if "{{" in text else "{{ (" + text + ") }}"]


def _templates(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if ("{{" in value or "{%" in value) else []
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _templates(k) + _templates(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _templates(v)]
    return []


def names_read(task: Any, extra_conditions: Any = None) -> frozenset[str]:
    """Every variable name the task's templates read (EVERYTHING when unsure)."""
    loop = getattr(task, "loop", None)
    looped = [loop.terms, loop.label_template, loop.pause_value] if loop is not None else None
    sources = (_templates(task.args) + _templates(looped)
               + _conditions(task.when) + _conditions(task.changed_when)
               + _conditions(getattr(task, "failed_when", None))
               + _conditions(getattr(task, "until", None))
               + _templates([getattr(task, "environment", None), getattr(task, "retries", None),
                             getattr(task, "delay", None)])
               + _conditions(extra_conditions))
    found: set[str] = set()
    for source in sources:
        found |= _names(source)
    return frozenset(found)


def waits_for(task: Any, pending: set[str] | dict, extra_conditions: Any = None) -> bool:
    """Whether the task reads one of `pending` (registered in a segment not run yet)."""
    if not pending:
        return False
    read = names_read(task, extra_conditions)
    return read is EVERYTHING or bool(read & set(pending)) or "*" in read
