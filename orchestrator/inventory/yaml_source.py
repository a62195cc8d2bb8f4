"""Ansible's YAML inventory: top-level groups (usually just `all`), each with `hosts`, `vars` and
`children`, where `children` holds more groups of the same shape.

Keys are applied in the order they are written, as ansible-core applies them, since that order
decides host order and which value wins. Where ansible-core only warns (a group that is not a
mapping, an unknown key such as `host:`) orc stops with the file and line: those are typos that
would otherwise silently drop hosts from a rollout.
"""

from __future__ import annotations

import difflib
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
        if not isinstance(data, (dict, type(None))):
            raise self.fail(
                f"group {name!r} must be a mapping with hosts, vars and children, "
                f"got a {type(data).__name__}",
                keys,
            )
        try:
            name = self.builder.add_group(name)
        except InventoryError as err:
            raise self.fail(err.message, keys) from None
        if data is None:
            return name
        for section in SECTIONS:
            value = data.get(section)
            if isinstance(value, str):  # `hosts: web1` is short for `hosts: {web1: }`
                data[section] = {value: None}
            elif not isinstance(value, (dict, type(None))):
                raise self.fail(
                    f"{section!r} of group {name!r} must be a mapping, got a {type(value).__name__}",
                    (*keys, section),
                )
        for key, value in data.items():
            if key not in SECTIONS:
                close = difflib.get_close_matches(str(key), SECTIONS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.fail(
                    f"unknown key {key!r} in group {name!r}: expected hosts, vars or children{hint}",
                    (*keys, key),
                )
            if value is None:
                continue
            if key == "vars":
                self.variables(value, (*keys, key), lambda k, v: self.builder.set_group_var(name, k, v))
            elif key == "children":
                for child, child_data in value.items():
                    child = self.group(child, child_data, (*keys, key, child))
                    try:
                        self.builder.add_child(name, child)
                    except InventoryError as err:
                        raise self.fail(err.message, (*keys, key, child)) from None
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
        if not isinstance(host_vars, (dict, type(None))):
            raise self.fail(
                f"host {entry!r} in group {group!r} must map to a mapping of variables "
                f"(or nothing), got a {type(host_vars).__name__}",
                keys,
            )
        try:
            names, port = expand_host_entry(entry)
        except InventoryError as err:
            raise self.fail(f"host {entry!r}: {err.message}", keys) from None
        for host in names:
            self.builder.add_host(host, group, port)
            self.variables(host_vars or {}, keys, lambda k, v: self.builder.set_host_var(host, k, v))

    def variables(self, values: dict[Any, Any], keys: tuple[Any, ...], assign) -> None:
        for key, value in values.items():
            if not isinstance(key, str):
                raise self.fail(f"variable name {key!r} must be a string", (*keys, key))
            try:
                assign(key, value)
            except InventoryError as err:
                raise self.fail(err.message, (*keys, key)) from None
