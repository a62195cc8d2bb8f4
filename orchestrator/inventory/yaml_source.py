"""Ansible's YAML inventory: top-level groups (usually just `all`), each with `hosts`, `vars` and
`children`, where `children` holds more groups of the same shape.

Keys are applied in the order they are written, as ansible-core applies them, since that order
decides host order and which value wins. Where ansible-core only warns (a group that is not a
mapping, an unknown key such as `host:`) orc stops with the file and line: those are typos that
would otherwise silently drop hosts from a rollout.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from orchestrator.errors import InventoryError
from orchestrator.inventory.building import InventoryBuilder
from orchestrator.inventory.hostnames import expand_host_entry
from orchestrator.inventory.yaml_loading import line_of

SECTIONS = ("vars", "children", "hosts")


class YamlInventory:
    """Reads one parsed YAML/JSON inventory document into a builder."""

    def __init__(self, builder: InventoryBuilder, path: Path, text: str):
        self.builder = builder
        self.path = path
        self.text = text

    def fail(self, message: str, keys: tuple[Any, ...]) -> InventoryError:
        return InventoryError(message, path=self.path, line=line_of(self.text, keys))

    @contextmanager
    def at(self, keys: tuple[Any, ...], prefix: str = "") -> Iterator[None]:
        """Give errors raised below (by the builder, say) this file and the line of `keys`."""
        try:
            yield
        except InventoryError as err:
            if err.path:
                raise
            raise self.fail(prefix + err.message, keys) from None

    def expect_mapping(self, value: Any, what: str, keys: tuple[Any, ...]) -> None:
        if not isinstance(value, (dict, type(None))):
            raise self.fail(f"{what}, got a {type(value).__name__}", keys)

    def read(self, data: dict[str, Any]) -> None:
        if "plugin" in data:
            raise self.fail(
                f"inventory plugin configuration (plugin: {data['plugin']}) is not supported; "
                "expected a YAML inventory with `all:` and its hosts, vars and children",
                ("plugin",),
            )
        for name, group_data in data.items():
            self.group(name, group_data, (name,))

    def group(self, name: Any, data: Any, keys: tuple[Any, ...]) -> str:
        self.expect_mapping(data, f"group {name!r} must be a mapping with hosts, vars and children",
                            keys)
        with self.at(keys):
            name = self.builder.add_group(name)
        if data is None:
            return name
        for section in SECTIONS:
            if isinstance(data.get(section), str):  # `hosts: web1` is short for `hosts: {web1: }`
                data[section] = {data[section]: None}
            what = f"{section!r} of group {name!r} must be a mapping"
            self.expect_mapping(data.get(section), what, (*keys, section))
        for key, value in data.items():
            if key not in SECTIONS:
                close = difflib.get_close_matches(str(key), SECTIONS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                message = f"unknown key {key!r} in group {name!r}: expected hosts, vars or children"
                raise self.fail(message + hint, (*keys, key))
            if value is None:
                continue
            if key == "vars":
                self.variables(value, (*keys, key), partial(self.builder.set_group_var, name))
            elif key == "children":
                for child, child_data in value.items():
                    child = self.group(child, child_data, (*keys, key, child))
                    with self.at((*keys, key, child)):
                        self.builder.add_child(name, child)
            else:
                for entry, host_vars in value.items():
                    self.hosts(name, entry, host_vars, (*keys, key, entry))
        return name

    def hosts(self, group: str, entry: Any, host_vars: Any, keys: tuple[Any, ...]) -> None:
        if not isinstance(entry, str):
            raise self.fail(
                f"host {entry!r} in group {group!r} must be a string; quote numbers and booleans",
                keys,
            )
        self.expect_mapping(host_vars, f"host {entry!r} in group {group!r} must map to a mapping "
                            "of variables (or nothing)", keys)
        with self.at(keys, prefix=f"host {entry!r}: "):
            names, port = expand_host_entry(entry)
            for host in names:
                self.builder.add_host(host, group, port)
        for host in names:
            self.variables(host_vars or {}, keys, partial(self.builder.set_host_var, host))

    def variables(self, values: dict[Any, Any], keys: tuple[Any, ...],
                  assign: Callable[[str, Any], None]) -> None:
        """Apply variables in file order; an error in one points at its line."""
        for key, value in values.items():
            if not isinstance(key, str):
                raise self.fail(f"variable name {key!r} must be a string", (*keys, key))
            with self.at((*keys, key)):
                assign(key, value)
