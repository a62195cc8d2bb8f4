"""Ansible's INI inventory: `[group]` host lines, `[group:vars]` and `[group:children]` sections.

Host lines are split like a shell (shlex, `#` comments) and every `key=value` value, on host lines
and in `:vars` sections alike, goes through Python's `ast.literal_eval` as ansible-core does, so
`port=22` is an int, `flag=True` a bool and `name=web` stays a string. Lines before any section
are ungrouped hosts. A group may be named in `:children` or `:vars` before its own section, but
must get one somewhere in the file (or exist from an earlier source).
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from pathlib import Path
from typing import Any

from orchestrator.errors import InventoryError
from orchestrator.inventory.building import InventoryBuilder
from orchestrator.inventory.hostnames import expand_host_entry
from orchestrator.inventory.values import Unsafe

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")
_STATES = ("hosts", "children", "vars")


def _coerce(value: Any) -> Any:
    """Turn what literal_eval may return into inventory values, as ansible-core does."""
    if isinstance(value, (list, tuple, set)):
        return [_coerce(item) for item in value]
    if isinstance(value, dict):
        return {key: _coerce(item) for key, item in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        # ansible-core decodes bytes literals without marking them templatable
        return Unsafe(value.decode("utf-8", errors="surrogateescape"))
    return value


def parse_value(text: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text  # not a Python literal: a plain string
    except Exception as err:  # e.g. {[1]: 2}: a literal that cannot be built
        raise InventoryError(f"cannot read value {text!r}: {err}") from None
    return _coerce(value)


class IniInventory:
    """Reads one INI inventory file into a builder, line by line."""

    def __init__(self, builder: InventoryBuilder, path: Path):
        self.builder = builder
        self.path = path
        # group -> where it was first referenced without being declared
        self.pending: dict[str, dict[str, Any]] = {}

    def read(self, text: str) -> None:
        group, state = "ungrouped", "hosts"
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            try:
                section = _SECTION.match(line)
                if section:
                    group, state = self.section(section, number)
                elif line.startswith("[") and line.endswith("]"):
                    raise InventoryError(
                        f"invalid section header {line!r}: expected [group], [group:vars] or "
                        "[group:children] with no spaces"
                    )
                elif state == "hosts":
                    self.host_line(group, line)
                elif state == "vars":
                    self.vars_line(group, line)
                else:
                    self.child_line(group, line, number)
            except InventoryError as err:
                raise InventoryError(err.message, path=self.path, line=number) from None
        for name, declaration in self.pending.items():
            if declaration["state"] == "vars":
                message = f"section [{name}:vars] is for group {name!r}, which is never defined"
            else:
                message = (f"section [{declaration['parents'][-1]}:children] names group "
                           f"{name!r}, which is never defined")
            raise InventoryError(message, path=self.path, line=declaration["line"])

    def section(self, match: re.Match[str], number: int) -> tuple[str, str]:
        name, state = match.group(1), match.group(2) or "hosts"
        if state not in _STATES:
            raise InventoryError(
                f"section [{name}:{state}] has unknown type {state!r}: expected "
                f"[{name}], [{name}:vars] or [{name}:children]"
            )
        if name not in self.builder.groups:
            if state == "vars" and name not in self.pending:
                self.pending[name] = {"line": number, "state": state}
            self.builder.add_group(name)
        if name in self.pending and state != "vars":
            if self.pending[name]["state"] == "children":
                self.add_pending_children(name)
            else:
                del self.pending[name]
        return name, state

    def add_pending_children(self, group: str) -> None:
        for parent in self.pending[group]["parents"]:
            self.builder.add_child(parent, group)
            if parent in self.pending and self.pending[parent]["state"] == "children":
                self.add_pending_children(parent)
        del self.pending[group]

    def host_line(self, group: str, line: str) -> None:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as err:
            raise InventoryError(f"cannot split host line {line!r}: {err}") from None
        entry = tokens[0] if tokens else ""
        names, port = expand_host_entry(entry)
        if entry.strip().endswith(":") and port is None:
            raise InventoryError(f"host {entry!r} ends in ':', which is reserved for a port")
        if "---" in (name.strip() for name in names):
            raise InventoryError("a '---' host line: this looks like a YAML file")
        variables = {}
        for token in tokens[1:]:
            if "=" not in token:
                raise InventoryError(f"expected key=value after the host name, got {token!r}")
            key, value = token.split("=", 1)
            variables[key] = parse_value(value)
        for name in names:
            self.builder.add_host(name, group, port)
            for key, value in variables.items():
                self.builder.set_host_var(name, key, value)

    def vars_line(self, group: str, line: str) -> None:
        if "=" not in line:
            raise InventoryError(f"expected key=value in [{group}:vars], got {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        self.builder.set_group_var(group, key, parse_value(value))

    def child_line(self, group: str, line: str, number: int) -> None:
        match = _GROUP_NAME.match(line)
        if not match:
            raise InventoryError(f"expected a group name in [{group}:children], got {line!r}")
        child = match.group(1)
        if child in self.builder.groups:
            self.builder.add_child(group, child)
        elif child in self.pending:
            self.pending[child].setdefault("parents", []).append(group)
        else:
            self.pending[child] = {"line": number, "state": "children", "parents": [group]}
